"""The page's history as an Atom and an RSS feed: one entry per incident (its latest public
word) and per maintenance window. Built from the snapshot; every text is XML-escaped."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape


def _entries(snap: dict[str, Any]) -> list[dict[str, Any]]:
    url = snap["page"]["url"]
    out = []
    for i in snap["incidents"]:
        words = " / ".join(f"{u['status'].capitalize()}: {u['body']}" for u in i["updates"]) or "We are looking into it."
        out.append({"id": f"{url}#incident-{i['id']}", "title": i["name"], "updated": i["updated_at"],
                    "link": f"{url}#incident-{i['id']}", "summary": f"{i['status'].capitalize()}. {words}"})
    for m in snap["scheduled_maintenances"]:
        out.append({"id": f"{url}#maintenance-{m['id']}", "title": f"Maintenance: {m['name']}",
                    "updated": m["updated_at"], "link": f"{url}#maintenance-{m['id']}",
                    "summary": f"{m['status'].replace('_', ' ').capitalize()}: {m['scheduled_for']} to "
                               f"{m['scheduled_until']}. {m['body']}".strip()})
    out.sort(key=lambda e: e["updated"], reverse=True)
    return out[:50]


def atom(snap: dict[str, Any]) -> str:
    p = snap["page"]
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
             f"<id>{escape(p['url'])}</id>", f"<title>{escape(p['name'])} status</title>",
             f"<updated>{escape(p['updated_at'])}</updated>",
             f'<link rel="alternate" type="text/html" href="{escape(p["url"])}"/>',
             f'<link rel="self" type="application/atom+xml" href="{escape(p["url"])}/history.atom"/>',
             f"<author><name>{escape(p['name'])}</name></author>"]
    for e in _entries(snap):
        parts.append(f"<entry><id>{escape(e['id'])}</id><title>{escape(e['title'])}</title>"
                     f"<updated>{escape(e['updated'])}</updated><link rel=\"alternate\" href=\"{escape(e['link'])}\"/>"
                     f"<summary>{escape(e['summary'])}</summary></entry>")
    parts.append("</feed>")
    return "\n".join(parts)


def rss(snap: dict[str, Any]) -> str:
    p = snap["page"]
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
             f"<title>{escape(p['name'])} status</title>", f"<link>{escape(p['url'])}</link>",
             f"<description>Status of {escape(p['name'])}</description>",
             f"<lastBuildDate>{format_datetime(datetime.fromisoformat(p['updated_at']))}</lastBuildDate>"]
    for e in _entries(snap):
        parts.append(f"<item><title>{escape(e['title'])}</title><link>{escape(e['link'])}</link>"
                     f"<guid isPermaLink=\"false\">{escape(e['id'])}</guid>"
                     f"<pubDate>{format_datetime(datetime.fromisoformat(e['updated']))}</pubDate>"
                     f"<description>{escape(e['summary'])}</description></item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)
