"""A browser's User-Agent as people say it ("Chrome on Android"), by ua-parser (the maintained
port of the uap-core regexes); the raw string stays available behind it."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

BROWSERS = {"Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome", "Mobile Safari": "Safari",
            "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox", "HeadlessChrome": "Headless Chrome",
            "Chrome Mobile WebView": "Android WebView", "Edge Mobile": "Edge", "Samsung Internet": "Samsung Internet",
            "Python Requests": "Python requests"}
SYSTEMS = {"Mac OS X": "macOS", "iOS": "iOS", "Linux": "Linux", "Windows": "Windows", "Android": "Android",
           "Chrome OS": "ChromeOS"}


@lru_cache(maxsize=512)
def describe(user_agent: str | None) -> str:
    ua = (user_agent or "").strip()
    if not ua:
        return "unknown device"
    found = parse(ua[:512])
    browser = found.user_agent.family if found.user_agent else None
    system = found.os.family if found.os else None
    device = found.device.family if found.device else None
    if browser in (None, "Other"):
        return ua.split("/")[0][:40] or "unknown device"
    name = BROWSERS.get(browser, browser)
    where = SYSTEMS.get(system or "", system) if system not in (None, "Other") else None
    if device in ("iPhone", "iPad"):
        where = device
    return f"{name} on {where}" if where else name
