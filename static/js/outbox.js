/* The outbox: actions made while offline (or while the request failed), kept in IndexedDB and
 * replayed later by whoever gets there first: the service worker (Background Sync, its start,
 * a "flush" message) or the page (the online event, app open). Every entry carries an operation
 * id, and the server answers a replay with the first answer, so an ack is applied exactly once
 * however many times it is sent.
 *
 * A classic script on purpose: pages load it with <script>, the worker with importScripts().
 */
(function (scope) {
  "use strict";
  const DB_NAME = "vigil";
  const STORE = "outbox";
  const KEEP_DONE_MS = 24 * 3600 * 1000;

  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) {
          req.result.createObjectStore(STORE, { keyPath: "op_id" });
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function run(mode, fn) {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const result = fn(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const put = (entry) => run("readwrite", (s) => s.put(entry));
  const remove = (opId) => run("readwrite", (s) => s.delete(opId));
  const all = () => run("readonly", (s) => s.getAll());

  function newOpId() {
    return scope.crypto && scope.crypto.randomUUID
      ? scope.crypto.randomUUID()
      : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* Queue a POST to be sent later. `csrf` is the session's CSRF token (null for signed links). */
  async function queue({ url, body, csrf, incidentId, label, kind }) {
    const entry = {
      op_id: body.op_id || newOpId(),
      kind: kind || "ack",
      url,
      body: Object.assign({}, body),
      csrf: csrf || null,
      incident_id: incidentId || null,
      label: label || "",
      status: "queued",
      created_at: Date.now(),
      attempts: 0,
      result: null,
    };
    entry.body.op_id = entry.op_id;
    await put(entry);
    return entry;
  }

  let flushing = null;

  /* Send every queued entry once. `notify(entry)` hears about each one that got an answer.
   * Offline or a server error: the entry stays queued for the next chance. */
  function flush(notify) {
    if (flushing) return flushing;
    flushing = (async () => {
      const entries = (await all()).sort((a, b) => a.created_at - b.created_at);
      for (const entry of entries) {
        if (entry.status !== "queued") {
          if (Date.now() - (entry.done_at || entry.created_at) > KEEP_DONE_MS) await remove(entry.op_id);
          continue;
        }
        let resp;
        try {
          const headers = { "Content-Type": "application/json" };
          if (entry.csrf) headers["X-CSRFToken"] = entry.csrf;
          resp = await fetch(entry.url, {
            method: "POST",
            headers,
            credentials: "same-origin",
            body: JSON.stringify(entry.body),
          });
        } catch (e) {
          break; // still offline: keep everything for the next chance
        }
        entry.attempts += 1;
        let data = {};
        try { data = await resp.json(); } catch (e) { /* not JSON */ }
        if (resp.status === 401 || resp.status >= 500) {
          entry.result = { message: resp.status === 401 ? "Log in again to send it." : "The server failed; retrying." };
          await put(entry);
          if (notify) notify(entry);
          continue;
        }
        entry.status = resp.ok ? "sent" : "refused";
        entry.result = data;
        entry.done_at = Date.now();
        await put(entry);
        if (notify) notify(entry);
      }
    })().finally(() => { flushing = null; });
    return flushing;
  }

  scope.VigilOutbox = { queue, flush, all, remove, newOpId };
})(self);
