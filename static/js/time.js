/* Times on the viewer's clock: the user's zone (body data-tz), or this browser's while they have
 * not chosen one (data-tz-auto), in the browser's locale, through Intl.DateTimeFormat. The server
 * renders the same (app/timefmt.py); this re-draws what pages add later, and reports the
 * browser's zone once when it differs from the one the server used. */

const body = document.body;
const browserZone = (() => {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; }
})();

export function viewerZone() {
  if (body.dataset.tzAuto === "1" || !body.dataset.tz) return browserZone;
  return body.dataset.tz;
}

/* 24-hour locales write 09:00, 12-hour ones 9:00 AM (as the server's Babel does). */
const H = (() => {
  try {
    const cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
    return cycle === "h23" || cycle === "h24" ? "2-digit" : "numeric";
  } catch (e) { return "numeric"; }
})();

const OPTIONS = {
  datetime: { weekday: "short", day: "numeric", month: "short", hour: H, minute: "2-digit" },
  full: { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: H, minute: "2-digit" },
  time: { hour: H, minute: "2-digit" },
  timesec: { hour: H, minute: "2-digit", second: "2-digit" },
  date: { day: "numeric", month: "short", year: "numeric" },
  day: { weekday: "short", day: "numeric", month: "short" },
};
const cache = new Map();

function formatter(kind, zoneName) {
  const key = `${kind}|${zoneName}|${viewerZone()}`;
  if (!cache.has(key)) {
    const opts = { ...(OPTIONS[kind] || OPTIONS.datetime), timeZone: viewerZone() };
    if (zoneName && !["date", "day"].includes(kind)) opts.timeZoneName = "short";
    cache.set(key, new Intl.DateTimeFormat(undefined, opts));
  }
  return cache.get(key);
}

/* An ISO instant (or Date) as text on the viewer's clock. */
export function formatTime(value, kind = "datetime", { zone = false } = {}) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return formatter(kind, zone).format(d);
}

/* A <time> element the way the server draws them. */
export function timeElement(iso, kind = "datetime", { zone = false } = {}) {
  const t = document.createElement("time");
  t.dateTime = iso;
  t.dataset.t = kind;
  if (zone) t.dataset.zone = "1";
  t.textContent = formatTime(iso, kind, { zone });
  return t;
}

export function redrawTimes(root = document) {
  for (const t of root.querySelectorAll("time[data-t]")) {
    const text = formatTime(t.getAttribute("datetime"), t.dataset.t, { zone: t.dataset.zone === "1" });
    if (text && t.textContent !== text) t.textContent = text;
  }
  for (const t of root.querySelectorAll("time[data-local]")) {
    const text = formatTime(t.getAttribute("datetime"), "datetime");
    if (text) t.textContent = text;
  }
  redrawCountdowns(root);
}

/* "42 min left", "1 h 05 min left", "overdue by 3 min" (the same words as timefmt.countdown). */
export function countdownText(deadline, now = Date.now()) {
  const seconds = Math.trunc((new Date(deadline).getTime() - now) / 1000);
  const late = seconds < 0;
  const minutes = Math.floor((Math.abs(seconds) + (late ? 0 : 59)) / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const span = h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min`;
  return late ? `overdue by ${span}` : `${span} left`;
}

export function redrawCountdowns(root = document) {
  for (const el of root.querySelectorAll("[data-countdown]")) {
    const deadline = el.dataset.countdown;
    el.textContent = countdownText(deadline);
    const left = new Date(deadline).getTime() - Date.now();
    const box = el.closest("[data-risk]") || el;
    box.dataset.risk = left < 0 ? "late" : left < 15 * 60 * 1000 ? "soon" : "ok";
  }
}

/* Tell the server this browser's zone, once, while the person follows their device's zone. */
async function reportZone() {
  if (body.dataset.tzAuto !== "1" || !body.dataset.user || body.dataset.tz === browserZone) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  try {
    const r = await fetch("/settings/profile/timezone", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ timezone: browserZone, auto: true }),
    });
    if (r.ok) body.dataset.tz = browserZone;
  } catch (e) { /* offline: next page */ }
}

redrawTimes();
reportZone();
setInterval(() => redrawCountdowns(), 15000);
document.addEventListener("vigil:content", () => redrawTimes());
