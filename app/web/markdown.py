"""Markdown for runbooks and status updates, rendered safely.

markdown-it-py parses CommonMark with raw HTML turned off (so `<script>` stays text), then nh3
(the Rust `ammonia` sanitiser) keeps only an allow-list of tags and attributes: the output is
safe even if the parser had a bug. Links may only be http, https, mailto or ssh (an SSH link
opens the phone's terminal app), and carry rel="noopener noreferrer nofollow".
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
SCHEMES = {"http", "https", "mailto", "ssh"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(["table", "strikethrough"])
# Images are left out on purpose: a runbook or an update must not load from other hosts
# (the CSP would block them anyway) or track who reads it.
_md.disable("image")


def render(text: str | None) -> Markup:
    if not text:
        return Markup("")
    html = _md.render(text)
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                      link_rel="noopener noreferrer nofollow", strip_comments=True)
    return Markup(clean)  # noqa: S704  (sanitised just above)
