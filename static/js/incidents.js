/* The incidents list, live: new incidents appear at the top, changes update their row, resolved
 * ones leave the open list. Rows are built with DOM calls (text, never HTML) from the event's
 * incident snapshot, the same shape the server renders. */
import { live } from "./app.js";

const list = document.getElementById("incident-list");

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

export function renderRow(inc) {
  const li = el("li", `incident ${inc.status} ${inc.urgency}`);
  li.dataset.id = inc.id;
  const a = el("a");
  a.href = `/incidents/${inc.id}`;
  a.append(
    el("span", "num", `#${inc.number}`),
    el("span", "status", inc.status.replace("_", " ")),
    el("span", "who", `${inc.client.name} / ${inc.service.name}`),
    el("span", "summary", inc.summary),
  );
  const holders = ["1", "2"].map((n) => inc.slots && inc.slots[n] && inc.slots[n].name).filter(Boolean);
  if (holders.length) a.append(el("span", "slots", holders.join(" · ")));
  if (inc.alert_count > 1) a.append(el("span", "count", `×${inc.alert_count}`));
  li.append(a);
  return li;
}

function upsert(inc) {
  const old = list.querySelector(`li[data-id="${inc.id}"]`);
  if (inc.status === "resolved") {
    if (old) old.remove();
  } else if (old) {
    old.replaceWith(renderRow(inc));
  } else {
    list.prepend(renderRow(inc));
  }
  const empty = list.querySelector(".empty");
  if (empty) empty.hidden = list.querySelectorAll("li.incident").length > 0;
}

live.on((event) => {
  const inc = event.data && event.data.incident;
  if (!inc || !event.kind.startsWith("incident.")) return;
  if (!inc.status) {
    // a partial snapshot (a repeated alert): patch the counter only
    const row = list.querySelector(`li[data-id="${inc.id}"] .summary`);
    if (row && inc.alert_count) {
      const count = row.parentNode.querySelector(".count") || el("span", "count");
      count.textContent = `×${inc.alert_count}`;
      row.parentNode.append(count);
    }
    return;
  }
  // An alert storm: one event carries each of its incidents' snapshots.
  for (const one of event.data.snapshots || [inc]) upsert(one);
});
