/* Vigil's service worker: the offline app shell, lock-screen notifications with an Acknowledge
 * action, and the outbox replay. Served at /sw.js (root scope); __VERSION__ is replaced by the
 * server with a hash of the worker and the static files, so every deploy refreshes the cache. */
"use strict";
importScripts("/static/js/outbox.js");

const VERSION = "__VERSION__";
const SHELL_CACHE = `vigil-shell-${VERSION}`;
const PAGES_CACHE = "vigil-pages";
const SHELL = [
  "/offline",
  "/manifest.webmanifest",
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/outbox.js",
  "/static/js/live.js",
  "/static/js/incidents.js",
  "/static/js/incident.js",
  "/static/js/notifications.js",
  "/static/js/home.js",
  "/static/icons/icon-192.png",
  "/static/icons/badge-96.png",
];
const SYNC_TAG = "vigil-outbox";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("vigil-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
    await flushOutbox();
  })());
});

/* --- the network ------------------------------------------------------------------------- */

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (req.mode === "navigate") {
    event.respondWith(pageNetworkFirst(req));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(req));
  } else if (url.pathname.startsWith("/api/v1/incidents")) {
    event.respondWith(networkFirst(req, PAGES_CACHE));
  }
});

async function pageNetworkFirst(req) {
  try {
    const resp = await fetch(req);
    // Keep the last good copy of each screen, so the app opens offline on what it last knew.
    if (resp.ok && resp.type === "basic" && !resp.redirected) {
      const cache = await caches.open(PAGES_CACHE);
      await cache.put(req, resp.clone());
    }
    return resp;
  } catch (e) {
    const cached = await caches.match(req, { ignoreSearch: true });
    return cached || (await caches.match("/offline")) || Response.error();
  }
}

async function networkFirst(req, cacheName) {
  try {
    const resp = await fetch(req);
    if (resp.ok) (await caches.open(cacheName)).put(req, resp.clone());
    return resp;
  } catch (e) {
    return (await caches.match(req)) || Response.error();
  }
}

async function cacheFirst(req) {
  const cached = await caches.match(req, { ignoreSearch: true });
  if (cached) return cached;
  const resp = await fetch(req);
  if (resp.ok) (await caches.open(SHELL_CACHE)).put(req, resp.clone());
  return resp;
}

/* --- the outbox ---------------------------------------------------------------------------- */

async function tellPages(message) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true, type: "window" })) {
    client.postMessage(message);
  }
}

function flushOutbox() {
  return self.VigilOutbox.flush((entry) => tellPages({ type: "outbox", entry }));
}

async function scheduleReplay() {
  // Background Sync where the browser has it; otherwise the next online event, worker start
  // or app open does it (see static/js/app.js).
  if (self.registration.sync) {
    try { await self.registration.sync.register(SYNC_TAG); } catch (e) { /* permission missing */ }
  }
}

self.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(flushOutbox());
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "flush") event.waitUntil(flushOutbox());
});

/* --- push and the lock screen ------------------------------------------------------------- */

function notificationFor(payload) {
  const incident = payload.incident || {};
  const open = ["triggered"].includes(incident.status || "triggered");
  const options = {
    body: payload.body || incident.summary || "",
    tag: payload.tag || (incident.id ? `incident-${incident.id}` : "vigil"),
    renotify: true, // a re-notification replaces the older one, and buzzes again
    requireInteraction: payload.kind === "incident", // an incident stays until handled
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/badge-96.png",
    vibrate: [300, 100, 300, 100, 600],
    timestamp: Date.now(),
    data: {
      url: payload.url || (incident.id ? `/incidents/${incident.id}` : "/"),
      ack_url: payload.ack_url || null,
      ack_token: payload.ack_token || null,
      incident_id: incident.id || null,
    },
    actions: payload.ack_token && open ? [{ action: "ack", title: "Acknowledge" }] : [],
  };
  return [payload.title || "Vigil", options];
}

async function handlePush(payload) {
  const [title, options] = notificationFor(payload);
  await self.registration.showNotification(title, options);
  await tellPages({ type: "push", payload });
}

self.addEventListener("push", (event) => {
  let payload = {};
  try { payload = event.data ? event.data.json() : {}; } catch (e) { payload = { body: event.data && event.data.text() }; }
  event.waitUntil(handlePush(payload));
});

/* Acknowledge from the lock screen, without opening the app: the notification carries a signed,
 * one-time ack token, so this works even when the app's session has expired. */
async function acknowledgeFrom(data) {
  const url = `/api/v1/ack-links/${encodeURIComponent(data.ack_token)}`;
  const entry = await self.VigilOutbox.queue({
    url, body: {}, kind: "ack-link", incidentId: data.incident_id, label: `#${data.incident_id}`,
  });
  await flushOutbox();
  const [done] = (await self.VigilOutbox.all()).filter((e) => e.op_id === entry.op_id);
  if (done && done.status === "queued") {
    await scheduleReplay();
    await self.registration.showNotification("Acknowledgement queued", {
      body: `#${data.incident_id}: no network; it will be sent as soon as the phone is back online.`,
      tag: `incident-${data.incident_id}`, badge: "/static/icons/badge-96.png", data,
    });
  } else if (done && done.status === "refused") {
    await self.registration.showNotification(`#${data.incident_id}: not acknowledged`, {
      body: (done.result && done.result.message) || "The server refused the acknowledgement.",
      tag: `incident-${data.incident_id}`, badge: "/static/icons/badge-96.png", data,
    });
  }
  return done;
}

async function openWindow(url) {
  const target = new URL(url, self.location.origin).href;
  for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    if (client.url === target && "focus" in client) return client.focus();
  }
  return self.clients.openWindow(target);
}

/* Exposed so tests can drive a click (a script-made NotificationEvent cannot waitUntil). */
self.vigilHandleNotificationClick = async function (event) {
  const notification = event.notification;
  const data = notification.data || {};
  if (notification.close) notification.close();
  if (event.action === "ack" && data.ack_token) return acknowledgeFrom(data);
  // No action buttons on this platform (iOS): the body opens a page that acks with one tap.
  const noActions = !("maxActions" in Notification) || Notification.maxActions === 0;
  return openWindow(noActions && data.ack_url ? data.ack_url : data.url || "/");
};

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(self.vigilHandleNotificationClick(event));
});

// A worker that just started (any event) also tries to send what is waiting.
flushOutbox();
