"""TwiML, the XML a Twilio-compatible provider reads back from us: what a call says, what an SMS
answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def document(*children: ET.Element) -> str:
    root = ET.Element("Response")
    root.extend(children)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def element(tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.Element(tag, attrs)
    e.text = text
    return e


def say(text: str) -> str:
    return document(element("Say", text))


def message(text: str) -> str:
    """An SMS answer (TwiML <Message>)."""
    return document(element("Message", text))
