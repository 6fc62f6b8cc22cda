/* One incident: acknowledge (queued when offline, replayed exactly once), claim slot #1/#2,
 * escalate, log an action, hand over, resolve; live updates from the event bus. */
import { api, live, queueForLater, queuedBecause, toast, csrfToken } from "./app.js";
import { timeElement, redrawTimes } from "./time.js";

const root = document.getElementById("incident");
const id = Number(root.dataset.id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function setAckState(text, kind) {
  const box = document.getElementById("ack-state");
  box.textContent = text;
  box.className = `ack-state ${kind || ""}`;
  box.hidden = !text;
}

async function refresh() {
  const r = await api(`/api/v1/incidents/${id}`, { method: "GET" }).catch(() => null);
  if (!r || !r.ok) return;
  const inc = r.data.incident;
  root.dataset.status = inc.status;
  root.className = `incident-detail ${inc.status}`;
  document.getElementById("status").textContent = inc.status.replace("_", " ");
  document.querySelectorAll("[data-when-status]").forEach((node) => {
    node.hidden = !node.dataset.whenStatus.split(" ").includes(inc.status);
  });
  for (const n of ["1", "2"]) {
    const slot = document.querySelector(`[data-slot="${n}"]`);
    if (!slot) continue;
    const holder = inc.slots[n].name;
    slot.querySelector(".holder").textContent = holder || "free";
    slot.querySelector("button").disabled = Boolean(holder) || inc.status === "resolved";
    slot.classList.toggle("taken", Boolean(holder));
  }
  const timeline = document.getElementById("timeline");
  timeline.replaceChildren(...r.data.timeline.map((t) => {
    const li = el("li", t.kind);
    li.append(timeElement(t.at, "timesec"), " ", t.message);
    return li;
  }));
  if (inc.status !== "triggered") document.getElementById("next-step").hidden = true;
  refreshFromPage(inc.status === "triggered" ? ["next-step", "handover-slot"] : ["handover-slot"]);
}

/* What the page computes, re-read from it: "M+30: Alice Martin will be paged at 02:29", and the
 * hand-over card ("waiting on Acme's team since 17:42 — 3 attempts", then who took it). */
async function refreshFromPage(ids) {
  const resp = await fetch(location.pathname, { credentials: "same-origin" }).catch(() => null);
  if (!resp || !resp.ok) return;
  const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
  for (const elementId of ids) {
    const fresh = doc.getElementById(elementId);
    const mine = document.getElementById(elementId);
    if (fresh && mine) {
      mine.replaceWith(fresh);
      redrawTimes(fresh.parentNode);
    }
  }
}

async function acknowledge(button) {
  const opId = self.VigilOutbox.newOpId();
  const url = `/api/v1/incidents/${id}/ack`;
  button.disabled = true;
  try {
    let r = null;
    try { r = await api(url, { body: { op_id: opId } }); } catch (e) { /* no answer: queued below */ }
    if (r && r.ok) setAckState("Acknowledged.", "ok");
    else if (r && ![502, 503, 504].includes(r.status)) setAckState(r.data.message || "Refused.", "error");
    else {
      // No network, or Vigil did not answer (the request died, or a proxy answered for it):
      // the ack goes to the outbox and is replayed later.
      await queueForLater({ url, body: { op_id: opId }, csrf: csrfToken(), incidentId: id, label: `#${id} acknowledgement` });
      setAckState(`Queued: ${queuedBecause()}.`, "warn");
    }
  } finally {
    button.disabled = false;
    refresh();
  }
}

document.addEventListener("vigil:outbox", (event) => {
  const entry = event.detail;
  if (entry.incident_id !== id) return;
  if (entry.status === "sent") setAckState("Sent: acknowledged.", "ok");
  else setAckState((entry.result && entry.result.message) || "Refused.", "error");
  refresh();
});

const ACTIONS = {
  claim: (form) => ({ path: "claim", body: { slot: Number(form.elements.slot.value) } }),
  escalate: () => ({ path: "escalate", body: {} }),
  log: (form) => ({ path: "actions", body: { text: form.elements.text.value } }),
  handover: (form) => ({ path: "handover", body: { reason: form.elements.reason.value } }),
  resolve: (form) => ({ path: "resolve", body: { summary: form.elements.summary.value } }),
  "client-mail": (form) => ({ path: "client-mail", body: { text: form.elements.text.value } }),
};

const FIELDS = [
  ["host", "Host"], ["port", "Port"], ["user", "User"], ["jump_host", "Jump host"],
  ["password", "Password"], ["private_key", "Private key"], ["vpn_profile", "VPN profile"], ["instructions", "Instructions"],
];

const SECRET_FIELDS = new Set(["password", "private_key"]);

function copyButton(text, label) {
  const b = el("button", "copy", "Copy");
  b.type = "button";
  b.setAttribute("aria-label", `Copy the ${label.toLowerCase()}`);
  b.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(text); toast(`${label} copied.`, "ok"); }
    catch (e) { toast("Copy failed: press Show, then select the text.", "error"); }
  });
  return b;
}

/* A password or key: masked until "Show" (someone may be looking over the shoulder). */
function secretValue(value, label) {
  const box = el("span", "secret-box");
  const shown = el(value.includes("\n") ? "pre" : "code", "value", value);
  const masked = el("code", "value masked", "•".repeat(Math.min(Math.max(value.length, 8), 16)));
  masked.setAttribute("aria-label", `${label} hidden`);
  shown.hidden = true;
  const toggle = el("button", "copy show", "Show");
  toggle.type = "button";
  toggle.setAttribute("aria-pressed", "false");
  toggle.setAttribute("aria-label", `Show the ${label.toLowerCase()}`);
  toggle.addEventListener("click", () => {
    const show = shown.hidden;
    shown.hidden = !show;
    masked.hidden = show;
    toggle.textContent = show ? "Hide" : "Show";
    toggle.setAttribute("aria-pressed", String(show));
    toggle.setAttribute("aria-label", `${show ? "Hide" : "Show"} the ${label.toLowerCase()}`);
  });
  box.append(masked, shown);
  return [box, toggle];
}

async function reveal(form) {
  const box = form.querySelector(".revealed");
  let r;
  try {
    r = await api(`/api/v1/connections/${form.dataset.reveal}/reveal`);
  } catch (e) {
    toast("You are offline: connection info is only shown with a network (every reveal is logged).", "error");
    return;
  }
  if (!r.ok) { toast(r.data.message || "Refused.", "error"); return; }
  const c = r.data;
  const rows = [];
  if (c.ssh_url) {
    const a = el("a", "button", "Open in the SSH app");
    a.href = c.ssh_url;
    rows.push(a);
  }
  for (const [key, label] of FIELDS) {
    if (c[key] === null || c[key] === undefined || c[key] === "") continue;
    const value = String(c[key]);
    const row = el("div", SECRET_FIELDS.has(key) ? "field secret" : "field");
    row.dataset.field = key;
    if (SECRET_FIELDS.has(key)) {
      const [box, toggle] = secretValue(value, label);
      const buttons = el("span", "buttons");
      buttons.append(toggle, copyButton(value, label));
      row.append(el("span", "meta", label), box, buttons);
    } else {
      row.append(el("span", "meta", label), el(value.includes("\n") ? "pre" : "code", "value", value), copyButton(value, label));
    }
    rows.push(row);
  }
  box.replaceChildren(...rows);
  box.hidden = false;
  form.querySelector("button.big").hidden = true;
}

root.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.dataset.reveal) {
    event.preventDefault();
    return reveal(form);
  }
  const action = form.dataset.action;
  if (!action) return;
  event.preventDefault();
  if (action === "ack") return acknowledge(form.querySelector("button"));
  if (action === "resolve" && !confirmResolve(form)) return;
  const { path, body } = ACTIONS[action](form);
  let r;
  try {
    r = await api(`/api/v1/incidents/${id}/${path}`, { body });
  } catch (e) {
    toast("You are offline: only acknowledgements are queued. Try again when the phone is back online.", "error");
    return;
  }
  let message = r.data.message || (r.ok ? "Done." : "Refused.");
  if (action === "claim" && r.ok) message = `You are responder #${body.slot} on incident #${root.dataset.number}.`;
  toast(message, r.ok ? "ok" : "error");
  if (r.ok && form.elements.length > 2) form.reset();
  refresh();
});

// A bundled page's delivery (an alert storm) is one event naming its incidents.
live.on((event) => {
  if (event.incident_id === id || (event.data && (event.data.incidents || []).includes(id))) refresh();
});

/* Resolve is final: the first tap arms the button ("Tap again to resolve"), a second within
 * 5 s resolves. Hand over sits right above it, so one slip of the thumb must not close it. */
let armed = null;
function confirmResolve(form) {
  const button = form.querySelector("button");
  if (armed) { clearTimeout(armed); armed = null; button.textContent = `Resolve #${root.dataset.number}`; return true; }
  button.textContent = `Tap again to resolve #${root.dataset.number}`;
  button.classList.add("armed");
  armed = setTimeout(() => {
    armed = null;
    button.textContent = `Resolve #${root.dataset.number}`;
    button.classList.remove("armed");
  }, 5000);
  return false;
}
