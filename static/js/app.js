/* Loaded by every page: registers the service worker, reports the outbox ("queued" → "sent"),
 * replays it when the phone comes back online, keeps the engine banner honest. */
import { Live } from "./live.js";
import "./time.js";

// Dark at night whatever the system says: a bright screen at 3 a.m. is the last thing needed.
const hour = new Date().getHours();
if (hour >= 20 || hour < 7) document.documentElement.dataset.theme = "dark";

/* Times are sent in UTC; time.js shows them on the viewer's clock. */
export { redrawTimes as localTimes } from "./time.js";

export const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export async function api(path, { method = "POST", body } = {}) {
  const resp = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: method === "GET" ? undefined : JSON.stringify(body || {}),
  });
  let data = {};
  try { data = await resp.json(); } catch (e) { /* empty */ }
  return { ok: resp.ok, status: resp.status, data };
}

export function toast(message, kind = "info", opts = {}) {
  let box = document.getElementById("toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    document.body.append(box);
  }
  const el = opts.id ? document.getElementById(opts.id) || document.createElement("div") : document.createElement("div");
  if (opts.id) el.id = opts.id;
  el.className = `toast ${kind}`;
  el.textContent = message;
  if (!el.parentNode) box.append(el);
  if (!opts.sticky) setTimeout(() => el.remove(), 6000);
  return el;
}

/* An outbox entry got an answer (from the worker or from this page's own replay). */
export function reportOutbox(entry) {
  const id = `outbox-${entry.op_id}`;
  const what = entry.label || "Acknowledgement";
  if (entry.status === "sent") {
    toast(`${what}: sent.`, "ok", { id });
    document.dispatchEvent(new CustomEvent("vigil:outbox", { detail: entry }));
  } else if (entry.status === "refused") {
    toast(`${what}: ${(entry.result && entry.result.message) || "refused by the server"}`, "error", { id, sticky: true });
    document.dispatchEvent(new CustomEvent("vigil:outbox", { detail: entry }));
  } else if (entry.result && entry.result.message) {
    toast(`${what}: queued. ${entry.result.message}`, "warn", { id, sticky: true });
  }
}

/* The worker sends the outbox whenever there is one (it also tells the lock screen); a page
 * sends it itself only when there is no worker at all. */
export async function flushOutbox() {
  const reg = navigator.serviceWorker && (await navigator.serviceWorker.getRegistration().catch(() => null));
  const sw = (navigator.serviceWorker && navigator.serviceWorker.controller) || (reg && reg.active);
  if (sw) sw.postMessage({ type: "flush" });
  else if (self.VigilOutbox) await self.VigilOutbox.flush(reportOutbox);
}

/* Why something was queued, as far as the page can tell. */
export const queuedBecause = () => (navigator.onLine === false
  ? "it will be sent when the phone is back online"
  : "Vigil did not answer; it is retried");

/* Queue a POST for later, and ask for a replay as soon as possible. */
export async function queueForLater(request) {
  const entry = await self.VigilOutbox.queue(request);
  toast(`${entry.label || "Acknowledgement"}: queued; ${queuedBecause()}.`, "warn",
        { id: `outbox-${entry.op_id}`, sticky: true });
  const reg = await navigator.serviceWorker?.ready.catch(() => null);
  if (reg && reg.sync) {
    try { await reg.sync.register("vigil-outbox"); } catch (e) { /* no permission: online event instead */ }
  }
  return entry;
}

function setEngineBanner(engine) {
  const banner = document.getElementById("engine-down");
  if (!engine) return;
  if (banner) banner.hidden = engine.ok;
}

export const live = new Live({
  since: Number(document.body.dataset.lastEventId || 0),
  onHealth: setEngineBanner,
});

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((e) => console.warn("service worker", e));
  // Periodic checks wake the worker now and then to send what waits (where the browser allows
  // it: Chromium, for an installed app); refused elsewhere, which is fine.
  navigator.serviceWorker.ready
    .then((reg) => reg.periodicSync && reg.periodicSync.register("vigil-outbox", { minInterval: 15 * 60 * 1000 }))
    .catch(() => null);
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "outbox") reportOutbox(event.data.entry);
  });
}
window.addEventListener("online", flushOutbox);
if (document.body.dataset.user) {
  flushOutbox();
  live.connect();
}
