/* One incident: acknowledge (queued when offline, replayed exactly once), claim slot #1/#2,
 * escalate, log an action, hand over, resolve; live updates from the event bus. */
import { api, live, queueForLater, queuedBecause, toast, csrfToken } from "./app.js";

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
    const time = el("time", null, new Date(t.at).toISOString().slice(11, 19));
    time.dateTime = t.at;
    li.append(time, " ", t.message);
    return li;
  }));
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
};

const FIELDS = [
  ["host", "Host"], ["port", "Port"], ["user", "User"], ["jump_host", "Jump host"],
  ["password", "Password"], ["private_key", "Private key"], ["vpn_profile", "VPN profile"], ["instructions", "Instructions"],
];

function copyButton(text) {
  const b = el("button", "copy", "Copy");
  b.type = "button";
  b.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(text); toast("Copied.", "ok"); }
    catch (e) { toast("Copy failed: select the text instead.", "error"); }
  });
  return b;
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
    const row = el("div", "field");
    row.append(el("span", "meta", label), el(value.includes("\n") ? "pre" : "code", "value", value), copyButton(value));
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
  const { path, body } = ACTIONS[action](form);
  let r;
  try {
    r = await api(`/api/v1/incidents/${id}/${path}`, { body });
  } catch (e) {
    toast("You are offline: only acknowledgements are queued. Try again when the phone is back online.", "error");
    return;
  }
  toast(r.data.message || (r.ok ? "Done." : "Refused."), r.ok ? "ok" : "error");
  if (r.ok && form.elements.length > 2) form.reset();
  refresh();
});

live.on((event) => { if (event.incident_id === id) refresh(); });
