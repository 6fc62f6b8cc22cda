/* "Enable notifications" on this phone, my devices, and a test notification per contact method.
 * Subscribing never blocks the UI: some browsers hang in pushManager.subscribe when their push
 * service is out of reach, so it races a timeout and says so. */
import { api, toast } from "./app.js";

const SUBSCRIBE_TIMEOUT_MS = 10000;
const status = document.getElementById("push-status");
const devices = document.getElementById("devices");
const methods = document.getElementById("methods");

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function b64urlToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function deviceLabel() {
  const ua = navigator.userAgent;
  const m = ua.match(/\(([^;)]+)/);
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  return `${browser} on ${m ? m[1] : "this device"}`.slice(0, 100);
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

async function enable() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    status.textContent = "This browser cannot receive push notifications. On an iPhone, add Vigil to the home screen first.";
    return;
  }
  status.textContent = "Asking for permission…";
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    status.textContent = "Notifications are blocked for this site. Allow them in the browser's settings.";
    return;
  }
  const key = await api("/api/v1/push/vapid-public-key", { method: "GET" });
  if (!key.ok) { status.textContent = key.data.message || "The server has no push key."; return; }
  status.textContent = "Subscribing…";
  try {
    const reg = await withTimeout(navigator.serviceWorker.ready, SUBSCRIBE_TIMEOUT_MS, "The app's service worker is not running.");
    const sub = await withTimeout(
      reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(key.data.public_key) }),
      SUBSCRIBE_TIMEOUT_MS,
      "The browser's push service did not answer. Check the network (some networks block it) and try again.",
    );
    const r = await api("/api/v1/push/subscriptions", { body: { ...sub.toJSON(), label: deviceLabel() } });
    status.textContent = r.ok ? "Notifications are on for this phone." : (r.data.message || "The server refused the subscription.");
    loadDevices();
  } catch (e) {
    status.textContent = e.message;
  }
}

async function loadDevices() {
  const r = await api("/api/v1/push/subscriptions", { method: "GET" }).catch(() => null);
  if (!r || !r.ok) return;
  devices.replaceChildren(...r.data.subscriptions.map((d) => {
    const li = el("li", d.enabled ? "device" : "device disabled");
    li.append(el("span", "label", d.label || d.user_agent || "device"),
              el("span", "meta", d.last_success_at ? `last push ${d.last_success_at.slice(0, 16).replace("T", " ")}` : "no push yet"));
    if (!d.enabled) li.append(el("span", "meta", `off: ${d.disabled_reason || ""}`));
    const test = el("button", "big", "Send a test");
    test.addEventListener("click", () => sendTest(d.id));
    const remove = el("button", "big", "Remove");
    remove.addEventListener("click", async () => {
      const del = await fetch(`/api/v1/push/subscriptions/${d.id}`, {
        method: "DELETE", credentials: "same-origin",
        headers: { "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content },
      });
      toast(del.ok ? "Device removed." : "Could not remove it.", del.ok ? "ok" : "error");
      loadDevices();
    });
    li.append(test, remove);
    return li;
  }));
}

async function sendTest(methodId) {
  const r = await api(`/api/v1/me/contact-methods/${methodId}/test`);
  toast(r.ok ? "Test notification queued: it should arrive within seconds." : (r.data.message || "Refused."), r.ok ? "ok" : "error");
}

async function loadMethods() {
  const r = await api("/api/v1/me/contact-methods", { method: "GET" }).catch(() => null);
  if (!r || !r.ok) return;
  methods.replaceChildren(...r.data.contact_methods.filter((m) => m.kind !== "push").map((m) => {
    const li = el("li", "method");
    li.append(el("span", "label", `${m.kind}: ${m.label || m.address}`));
    const test = el("button", "big", "Send a test");
    test.addEventListener("click", () => sendTest(m.id));
    li.append(test);
    return li;
  }));
}

document.getElementById("enable-push").addEventListener("click", enable);
loadDevices();
loadMethods();
