/* The home screen follows the event bus: any incident change refreshes its lists in place. */
import { live } from "./app.js";

let pending = null;
async function refresh() {
  const resp = await fetch(location.pathname, { credentials: "same-origin" }).catch(() => null);
  if (!resp || !resp.ok) return;
  const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
  const fresh = doc.querySelector("main");
  if (fresh) document.querySelector("main").replaceWith(fresh);
  document.dispatchEvent(new CustomEvent("vigil:content"));
}

live.on((event) => {
  if (!event.kind.startsWith("incident.")) return;
  clearTimeout(pending);
  pending = setTimeout(refresh, 300); // a burst of events, one refresh
});
