/* Vigil's service worker: the offline app shell, lock-screen notifications with an Acknowledge
 * action (and "I'm ready" on a shift's hand-off), and the outbox replay. Served at /sw.js (root scope); __VERSION__ is replaced by the
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
  "/static/js/time.js",
  "/static/icons/icon-192.png",
  "/static/icons/badge-96.png",
];

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
    event.waitUntil(flushOutbox()); // a wake-up like any other: send what waits
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

/* Why the worker delivers the outbox by itself, and the browser limits it works within:
 *
 * - Background Sync cannot be relied on here. Chromium refuses a sync registration made from a
 *   worker while no window of the origin is open ("InvalidAccessError: Attempted to register a
 *   sync event without a window..."), and a lock-screen tap is exactly that case. Safari and
 *   Firefox have no Background Sync at all. So a registration is only a bonus (it works when a
 *   page is open), and its failure is reported, not swallowed in silence.
 * - After a notification click the worker lives as long as the promise given to
 *   event.waitUntil() is pending, but not forever: Chromium ends an event that runs for 5
 *   minutes (other browsers sooner), and a worker idle for 30 s is stopped. So the tap keeps
 *   retrying with backoff for a bounded time (RETRY_FOR_MS), well inside that limit.
 * - After that, every later wake-up of the worker sends what waits: a push (before its
 *   notification is shown), a notification click, a message from a page, a page navigation,
 *   a (periodic) sync, the worker's own start.
 * - A sync event whose flush left something unsent must reject: the browser then retries it
 *   later with its own backoff, whereas a sync that resolves is done for good. */
const SYNC_TAG = "vigil-outbox";
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30 * 1000;
const RETRY_FOR_MS = 4 * 60 * 1000;
const FLUSH_BEFORE_PUSH_MS = 3000; // a page must not wait long behind a Vigil that does not answer

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function tellPages(message) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true, type: "window" })) {
    client.postMessage(message);
  }
}

/* Lock-screen notices about an acknowledgement are shown one after the other, so a late
 * "queued" can never overwrite the "sent" that followed it. */
let notices = Promise.resolve();
function notice(show) {
  notices = notices.catch(() => null).then(show);
  return notices;
}

/* What an acknowledgement's notices call what it acknowledges: the incident, or an alert storm's
 * page listing several (its ack link acknowledges each of them still waiting). */
function incidentLabel(data) {
  return data.bundle > 1 ? `${data.bundle} incidents` : `#${data.incident_number || data.incident_id}`;
}

function noticeOptions(data, body, sticky) {
  return {
    body,
    // In the place of the page it answers (a storm's page is tagged by the page, not an incident).
    tag: data.tag || `incident-${data.incident_id}`,
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/badge-96.png",
    requireInteraction: sticky,
    // Tapping the notice opens the incident; no Acknowledge button, the ack is already on its way.
    data: { url: data.url || `/incidents/${data.incident_id}`, incident_id: data.incident_id,
            incident_number: data.incident_number || null, bundle: data.bundle || null, tag: data.tag || null },
  };
}

/* The acknowledgement is still waiting: say so, and why (the phone offline, or online but Vigil
 * not answering), and that escalation goes on meanwhile. Skipped if it got its answer already. */
function showQueued(opId, data, { gaveUp = false } = {}) {
  return notice(async () => {
    const waiting = await self.VigilOutbox.get(opId);
    if (!waiting) return;
    const why = (waiting.result && waiting.result.message) || self.VigilOutbox.REASONS[waiting.reason] || "";
    const next = gaveUp
      ? " It stays queued and is sent the next time Vigil wakes up on this phone (a notification, opening the app)."
      : "";
    await self.registration.showNotification(`${incidentLabel(data)}: acknowledgement queued`, noticeOptions(
      data, `Not acknowledged yet. ${why}${next} Until it is sent, escalation goes on.`, true));
  });
}

/* The answer to an acknowledgement from the lock screen, as Vigil gave it. */
function answerText(entry, data) {
  const r = entry.result || {};
  const label = incidentLabel(data);
  if (entry.status === "sent") return [`${label}: acknowledgement sent`, r.message || `${label} acknowledged.`];
  const titles = {
    acknowledged_by_other: `${label}: ${r.acknowledged_by || "someone else"} acknowledged first`,
    already_resolved: `${label}: already resolved`,
    handed_over: `${label}: handed over to the client`,
  };
  return [titles[r.outcome] || `${label}: not acknowledged`, r.message || "Vigil refused the acknowledgement."];
}

/* Every entry that a flush tried: pages hear of it; an acknowledgement from the lock screen that
 * had to wait (or was refused) gets its answer on the lock screen too. One sent at the first try
 * needs no notice: the notification that was tapped just goes away. */
async function onTried(entry) {
  await tellPages({ type: "outbox", entry });
  if (entry.kind !== "ack-link" || entry.status === "queued") return;
  if (entry.status === "sent" && entry.attempts <= 1) return;
  const data = entry.notice || { incident_id: entry.incident_id };
  const [title, body] = answerText(entry, data);
  await notice(() => self.registration.showNotification(title, noticeOptions(data, body, entry.status !== "sent")));
}

function flushOutbox() {
  return self.VigilOutbox.flush(onTried);
}

async function scheduleReplay() {
  if (!self.registration.sync) return false;
  try {
    await self.registration.sync.register(SYNC_TAG);
    return true;
  } catch (e) {
    // Expected with no window open (see above): the retries and the next wake-up do the work.
    console.info("outbox: no Background Sync from here:", e && e.message);
    return false;
  }
}

/* Retry with backoff while the tap keeps the worker alive, until the entry gets its answer (the
 * flush shows it) or RETRY_FOR_MS runs out (the notice then says what happens next). */
async function keepSending(opId, data, shownReason) {
  const until = Date.now() + RETRY_FOR_MS;
  let delay = RETRY_FIRST_MS;
  let reason = shownReason;
  while (Date.now() + delay <= until) {
    await sleep(delay);
    delay = Math.min(delay * 2, RETRY_MAX_MS);
    await flushOutbox();
    const waiting = await self.VigilOutbox.get(opId);
    if (!waiting) return self.VigilOutbox.answer(opId);
    if (waiting.reason !== reason && waiting.reason !== "busy") {
      reason = waiting.reason;
      await showQueued(opId, data); // the reason changed (e.g. the phone went offline meanwhile)
    }
  }
  await scheduleReplay();
  await showQueued(opId, data, { gaveUp: true });
  return (await self.VigilOutbox.get(opId)) || self.VigilOutbox.answer(opId);
}

self.addEventListener("sync", (event) => {
  if (event.tag !== SYNC_TAG) return;
  event.waitUntil(flushOutbox().then((report) => {
    if (report.pending.length) {
      // Rejecting makes the browser retry this sync later; resolving would end it for good.
      throw new Error(`outbox: ${report.pending.length} still waiting (${report.reason})`);
    }
  }));
});

self.addEventListener("periodicsync", (event) => {
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
  const handoff = payload.kind === "handoff" && payload.ready_token; // a shift starts: "I'm ready"
  const options = {
    body: payload.body || incident.summary || "",
    tag: payload.tag || (incident.id ? `incident-${incident.id}` : "vigil"),
    renotify: true, // a re-notification replaces the older one, and buzzes again
    requireInteraction: payload.kind === "incident" || Boolean(handoff), // stays until handled
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/badge-96.png",
    vibrate: [300, 100, 300, 100, 600],
    timestamp: Date.now(),
    data: {
      url: payload.url || (incident.id ? `/incidents/${incident.id}` : "/"),
      // Where notifications have no buttons (iOS), the body opens the one-tap page: ack or ready.
      ack_url: payload.ack_url || payload.ready_url || null,
      ack_token: payload.ack_token || null,
      ready_token: payload.ready_token || null,
      incident_id: incident.id || null,
      incident_number: incident.number || null,
      bundle: incident.bundle || null, // an alert storm's page: how many incidents it lists
      tag: payload.tag || null,
    },
    actions: handoff ? [{ action: "ready", title: "I'm ready" }]
      : payload.ack_token && open ? [{ action: "ack", title: "Acknowledge" }] : [],
  };
  return [payload.title || "Vigil", options];
}

async function handlePush(payload) {
  // Send what waits first (a push proves the phone is online), but show the page without
  // waiting long for a Vigil that does not answer; the flush goes on under the same event.
  const flushing = flushOutbox().catch(() => null);
  await Promise.race([flushing, sleep(FLUSH_BEFORE_PUSH_MS)]);
  const [title, options] = notificationFor(payload);
  const id = options.data.incident_id;
  const waiting = id && (await self.VigilOutbox.all()).find((e) => e.kind === "ack-link" && e.incident_id === id);
  if (waiting) {
    const why = (waiting.result && waiting.result.message) || "";
    options.body = `${options.body}\nYour acknowledgement is queued, not sent yet. ${why}`.trim();
  }
  await notice(() => self.registration.showNotification(title, options));
  await tellPages({ type: "push", payload });
  await flushing;
}

self.addEventListener("push", (event) => {
  let payload = {};
  try { payload = event.data ? event.data.json() : {}; } catch (e) { payload = { body: event.data && event.data.text() }; }
  event.waitUntil(handlePush(payload));
});

/* Acknowledge from the lock screen, without opening the app: the notification carries a signed,
 * one-time ack token, so this works even when the app's session has expired. Resolves with the
 * entry after the first try: "sent", "refused" (with Vigil's answer) or "queued" (with why). */
async function acknowledgeFrom(data) {
  const url = `/api/v1/ack-links/${encodeURIComponent(data.ack_token)}`;
  const entry = await self.VigilOutbox.queue({
    url, body: {}, kind: "ack-link", incidentId: data.incident_id, label: incidentLabel(data),
    notice: { incident_id: data.incident_id, incident_number: data.incident_number, url: data.url,
              bundle: data.bundle || null, tag: data.tag || null },
  });
  await flushOutbox();
  const waiting = await self.VigilOutbox.get(entry.op_id);
  if (waiting) {
    await showQueued(entry.op_id, data);
    await scheduleReplay(); // works only if a window happens to be open; keepSending does the rest
    return waiting;
  }
  return self.VigilOutbox.answer(entry.op_id);
}

/* "I'm ready" from the lock screen, without opening the app: the hand-off notification carries
 * a one-time token. Through the outbox, so a phone offline at the start of its shift sends it
 * when it can. Resolves with the entry after the first try. */
async function readyFrom(data) {
  const entry = await self.VigilOutbox.queue({
    url: `/api/v1/ready-links/${encodeURIComponent(data.ready_token)}`, body: {}, kind: "ready-link",
    label: "I'm ready",
  });
  await flushOutbox();
  return (await self.VigilOutbox.get(entry.op_id)) || self.VigilOutbox.answer(entry.op_id);
}

async function openWindow(url) {
  const target = new URL(url, self.location.origin).href;
  for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    if (client.url === target && "focus" in client) return client.focus();
  }
  return self.clients.openWindow(target);
}

/* The notification click, exposed so tests can drive one (a script-made NotificationEvent
 * cannot waitUntil, so they pass a stand-in event with their own waitUntil). Resolves with the
 * outcome of the first try; event.waitUntil() gets the whole work, the retries included. */
self.vigilHandleNotificationClick = function (event) {
  const notification = event.notification;
  const data = notification.data || {};
  const keep = (promise) => {
    if (event.waitUntil) event.waitUntil(promise.catch((e) => console.warn("outbox", e)));
    return promise;
  };
  if (notification.close) notification.close();
  if (event.action === "ready" && data.ready_token) return keep(readyFrom(data));
  if (event.action === "ack" && data.ack_token) {
    const first = acknowledgeFrom(data);
    keep(first.then((entry) => (entry && entry.status === "queued" ? keepSending(entry.op_id, data, entry.reason) : entry)));
    return first;
  }
  // No action buttons on this platform (iOS): the body opens a page that acks with one tap.
  const noActions = !("maxActions" in Notification) || Notification.maxActions === 0;
  const opened = openWindow(noActions && data.ack_url ? data.ack_url : data.url || "/");
  keep(Promise.all([opened, flushOutbox()]));
  return opened;
};

self.addEventListener("notificationclick", (event) => {
  self.vigilHandleNotificationClick(event);
});

// A worker that just started (any event) also tries to send what is waiting.
flushOutbox();
