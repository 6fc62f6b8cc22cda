/* The outbox: actions made while offline (or while Vigil did not answer), kept in IndexedDB and
 * replayed later by whoever gets there first: the service worker (after a lock-screen tap, on
 * any of its wake-ups, Background Sync) or a page without a worker. Every entry carries an
 * operation id, and the server answers a replay with the first answer, so an ack is applied
 * exactly once however many times it is sent.
 *
 * The outbox is the entries still "queued". One that got its answer (sent, or refused: someone
 * else acknowledged first, the link expired...) leaves it: it is never sent again, and stays in
 * the store as a record of that answer for a day, for whichever context asks (the worker's retry
 * loop, a page). The store's shape is the one of the first version, so a page still running the
 * old script across a deploy can go on queueing into it.
 *
 * Never the same entry twice at once: before sending, a flush claims the entry in a readwrite
 * transaction (IndexedDB runs those one at a time across the pages and worker instances of the
 * origin), with a lease that outlives the request's own time-out; a context that finds the entry
 * claimed leaves it alone. A context that died mid-send (a stopped worker) loses its claim when
 * the lease runs out. Within one context, flushes run one after the other.
 *
 * A classic script on purpose: pages load it with <script>, the worker with importScripts().
 */
(function (scope) {
  "use strict";
  const DB_NAME = "vigil";
  const STORE = "outbox";
  const KEEP_ANSWERS_MS = 24 * 3600 * 1000;
  const SEND_TIMEOUT_MS = 20 * 1000; // a request that hangs (a bad connection) counts as no answer
  const LEASE_MS = 60 * 1000; // > SEND_TIMEOUT_MS: a live claim never expires under its holder

  /* Why an entry is still waiting, in words for the screen and the lock screen. */
  const REASONS = {
    offline: "The phone is offline; it is sent when the network is back.",
    no_answer: "Vigil did not answer; retrying.",
    server_error: "Vigil failed to handle it; retrying.",
    login: "Log in again to send it.",
    busy: "It is being sent.",
  };

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

  /* One readwrite or readonly transaction; `fn(store, done)` says what it resolves to. */
  async function run(mode, fn) {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        let value;
        fn(tx.objectStore(STORE), (v) => { value = v; });
        tx.oncomplete = () => resolve(value);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const isQueued = (entry) => entry && entry.status === "queued";
  const record = (opId) => run("readonly", (store, done) => {
    store.get(opId).onsuccess = (e) => done(e.target.result || null);
  });

  /* What still has to be sent, oldest first. */
  const all = () => run("readonly", (store, done) => {
    store.getAll().onsuccess = (e) => done(e.target.result.filter(isQueued).sort((a, b) => a.created_at - b.created_at));
  });
  /* The entry while it waits (null once it got its answer). */
  const get = async (opId) => {
    const entry = await record(opId);
    return isQueued(entry) ? entry : null;
  };
  /* The answer an entry got, once it left the outbox (null while it still waits). */
  const answer = async (opId) => {
    const entry = await record(opId);
    return entry && !isQueued(entry) ? entry : null;
  };
  const remove = (opId) => run("readwrite", (store) => { store.delete(opId); });

  function newOpId() {
    return scope.crypto && scope.crypto.randomUUID
      ? scope.crypto.randomUUID()
      : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* Queue a POST to be sent later. `csrf` is the session's CSRF token (null for signed links).
   * A signed link already waiting is not queued twice: a second tap would only be refused as a
   * used link once the first one got through. */
  async function queue({ url, body, csrf, incidentId, label, kind, notice }) {
    const entry = {
      op_id: (body && body.op_id) || newOpId(),
      kind: kind || "ack",
      url,
      body: Object.assign({}, body),
      csrf: csrf || null,
      incident_id: incidentId || null,
      label: label || "",
      notice: notice || null, // what the worker needs to tell the answer on the lock screen
      status: "queued",
      created_at: Date.now(),
      attempts: 0,
      reason: null,
      result: null,
      lease_until: 0,
      lease_owner: null,
    };
    entry.body.op_id = entry.op_id;
    return run("readwrite", (store, done) => {
      store.getAll().onsuccess = (e) => {
        const same = kind === "ack-link" && e.target.result.find((x) => isQueued(x) && x.kind === "ack-link" && x.url === url);
        if (same) { done(same); return; }
        store.put(entry);
        done(entry);
      };
    });
  }

  const owner = newOpId(); // this page or worker instance, as the holder of claims

  /* Take the entry for sending, unless it got its answer meanwhile or someone else holds it. */
  function claim(opId) {
    return run("readwrite", (store, done) => {
      store.get(opId).onsuccess = (e) => {
        const entry = e.target.result;
        const now = Date.now();
        if (!isQueued(entry)) { done({ gone: true }); return; }
        if (entry.lease_owner && entry.lease_owner !== owner && entry.lease_until > now) {
          done({ busy: entry });
          return;
        }
        entry.lease_owner = owner;
        entry.lease_until = now + LEASE_MS;
        entry.attempts = (entry.attempts || 0) + 1;
        entry.last_try_at = now;
        store.put(entry);
        done({ entry });
      };
    });
  }

  /* Still waiting: give the claim back and say why. */
  function release(entry, reason, message) {
    return run("readwrite", (store, done) => {
      store.get(entry.op_id).onsuccess = (e) => {
        const current = e.target.result;
        if (!isQueued(current)) { done(null); return; }
        Object.assign(current, { lease_owner: null, lease_until: 0, reason, result: { message } });
        store.put(current);
        done(current);
      };
    });
  }

  /* Answered: out of the outbox, as the record of its answer. */
  function settle(entry, status, data) {
    return run("readwrite", (store, done) => {
      const answered = Object.assign({}, entry, {
        status, result: data, reason: null, done_at: Date.now(), lease_owner: null, lease_until: 0,
      });
      store.put(answered);
      done(answered);
    });
  }

  function purgeAnswers() {
    return run("readwrite", (store) => {
      const cutoff = Date.now() - KEEP_ANSWERS_MS;
      store.openCursor().onsuccess = (e) => {
        const cursor = e.target.result;
        if (!cursor) return;
        if (!isQueued(cursor.value) && (cursor.value.done_at || cursor.value.created_at) < cutoff) cursor.delete();
        cursor.continue();
      };
    });
  }

  /* One attempt: {answer: {status, data}} when the server decided, or {wait: reason, message}. */
  async function send(entry) {
    const headers = { "Content-Type": "application/json" };
    if (entry.csrf) headers["X-CSRFToken"] = entry.csrf;
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    const timer = abort ? setTimeout(() => abort.abort(), SEND_TIMEOUT_MS) : null;
    let resp;
    try {
      resp = await fetch(entry.url, {
        method: "POST",
        headers,
        credentials: "same-origin",
        body: JSON.stringify(entry.body),
        signal: abort ? abort.signal : undefined,
      });
    } catch (e) {
      // No answer at all. navigator.onLine is false only when the phone surely has no network;
      // otherwise Vigil (or the way to it) did not answer: a deploy, a restart, a bad connection.
      const offline = scope.navigator && scope.navigator.onLine === false;
      return { wait: offline ? "offline" : "no_answer" };
    } finally {
      if (timer) clearTimeout(timer);
    }
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON (a proxy's error page) */ }
    if (resp.status === 401) return { wait: "login" };
    if ([502, 503, 504].includes(resp.status)) {
      // A proxy in front of Vigil answering for it: Vigil itself did not answer.
      return { wait: "no_answer", message: `Vigil did not answer (HTTP ${resp.status}); retrying.` };
    }
    if (resp.status >= 500 || resp.status === 429 || resp.status === 408) {
      return { wait: "server_error", message: `Vigil failed to handle it (HTTP ${resp.status}); retrying.` };
    }
    return { answer: { status: resp.ok ? "sent" : "refused", data: Object.assign({ http_status: resp.status }, data) } };
  }

  async function tell(notify, entry) {
    if (!notify) return;
    try { await notify(entry); } catch (e) { console.warn("outbox: telling about", entry.op_id, e); }
  }

  /* Send every waiting entry once (in order; offline or no answer stops the round, since the
   * rest would fail alike). `notify(entry)` hears about each entry that was tried. Resolves with
   * {answered: [entries], pending: [entries], reason}: `reason` says why the first of `pending`
   * waits. Never rejects for a network failure: callers decide what "still pending" means. */
  async function flushOnce(notify) {
    const report = { answered: [], pending: [], reason: null };
    let stopped = null;
    for (const entry of await all()) {
      if (stopped) {
        report.pending.push(entry);
        continue;
      }
      const got = await claim(entry.op_id);
      if (got.gone) continue; // answered meanwhile by another context
      if (got.busy) {
        report.pending.push(got.busy);
        report.reason = report.reason || "busy";
        continue;
      }
      const outcome = await send(got.entry);
      if (outcome.answer) {
        const done = await settle(got.entry, outcome.answer.status, outcome.answer.data);
        report.answered.push(done);
        await tell(notify, done);
        continue;
      }
      const message = outcome.message || REASONS[outcome.wait];
      const waiting = (await release(got.entry, outcome.wait, message)) || got.entry;
      report.pending.push(waiting);
      if (!report.reason || report.reason === "busy") report.reason = outcome.wait;
      await tell(notify, waiting);
      if (outcome.wait === "offline" || outcome.wait === "no_answer") stopped = outcome.wait;
    }
    await purgeAnswers();
    return report;
  }

  /* Flushes in this context run one after the other, and a flush asked for while one runs gets
   * a fresh round after it (the running one may have read the outbox before a new entry). */
  let running = null;
  let again = null;

  function flush(notify) {
    if (!running) {
      running = flushOnce(notify).finally(() => { running = null; });
      return running;
    }
    if (!again) {
      again = running.catch(() => null).then(() => {
        again = null;
        return flush(notify);
      });
    }
    return again;
  }

  scope.VigilOutbox = { queue, flush, all, get, answer, remove, newOpId, REASONS };
})(self);
