/* A status page kept current: a WebSocket sends the page's new state the moment it changes; when
 * WebSockets are blocked (a proxy, a corporate network), it polls the page's fragment with its
 * ETag instead. No reload, and nothing but the page's public state ever arrives. */
const body = document.body;
const slug = body.dataset.slug;
const key = body.dataset.key;
const q = key ? `?key=${encodeURIComponent(key)}` : "";
const main = document.getElementById("status-body");
const said = document.getElementById("live-state");
let etag = body.dataset.etag;
// The client's colour (#rrggbb, checked when it was saved): set through the CSSOM, so the page
// needs no inline style (the CSP allows none).
if (/^#[0-9a-f]{6}$/.test(body.dataset.color || "")) document.documentElement.style.setProperty("--brand", body.dataset.color);
let failures = 0;
let pollTimer = null;

function show(html, tag) {
  if (tag && tag === etag) return;
  main.innerHTML = html; // server-rendered and escaped (templates/status/_body.html)
  etag = tag;
}

function state(text) { if (said) said.textContent = text; }

async function poll() {
  try {
    const r = await fetch(`/status/${slug}/body${q}`, { headers: etag ? { "If-None-Match": `"${etag}"` } : {} });
    if (r.status === 200) show(await r.text(), (r.headers.get("ETag") || "").replaceAll('"', ""));
    state("updated every 15 s");
  } catch (e) { state("offline"); }
  pollTimer = setTimeout(poll, 15000);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let opened = false;
  let ws;
  try { ws = new WebSocket(`${proto}//${location.host}/status/${slug}/ws${q}`); } catch (e) { return fallback(); }
  ws.onopen = () => { opened = true; failures = 0; state("live"); clearTimeout(pollTimer); pollTimer = null; };
  ws.onmessage = (m) => {
    let data;
    try { data = JSON.parse(m.data); } catch (e) { return; }
    if (data.type === "page") show(data.html, data.etag);
    if (data.type === "hello" && data.etag !== etag) fetchOnce();
  };
  ws.onclose = () => {
    failures += opened ? 0 : 1;
    if (failures >= 2) return fallback();
    state("reconnecting…");
    setTimeout(connect, 1000 + Math.random() * 2000);
  };
}

async function fetchOnce() {
  const r = await fetch(`/status/${slug}/body${q}`);
  if (r.ok) show(await r.text(), (r.headers.get("ETag") || "").replaceAll('"', ""));
}

function fallback() {
  if (!pollTimer) poll();
  setTimeout(connect, 60000); // try the socket again now and then
}

const form = document.getElementById("subscribe");
if (form) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("subscribe-said");
    const r = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } });
    const data = await r.json().catch(() => ({}));
    out.textContent = data.message || "Something went wrong; try again.";
  });
}

connect();
