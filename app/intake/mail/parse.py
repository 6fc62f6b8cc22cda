"""A raw message into what an incident needs (pure): summary from the subject, details from the
text/plain part or the HTML part made text, quoted history and signature trimmed (the full text
kept), attachments listed, the threading headers, and whether it is an automatic message.

The stdlib `email` package (compat32, headers decoded as read: _text) decodes RFC 2047 headers,
quoted-printable and base64 bodies, and any charset Python knows; an unknown charset or broken MIME is read as well as
it can be (latin-1 never fails) and said so in `problems`, never an exception.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr

from ..base import clip

NO_SUBJECT = "(no subject)"


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    subject: str
    sender: str  # the From address, lower case ("" when none can be read)
    reply_to: str
    message_id: str | None
    refs: list[str]  # In-Reply-To then References, normalised
    text: str  # the whole text
    details: str  # the text without quoted history and signature
    attachments: list[Part] = field(default_factory=list)
    automatic: str | None = None  # why it is an automatic message (never an incident), or None
    problems: list[str] = field(default_factory=list)


def headers_of(raw: bytes) -> Message:
    """The headers only: cheap enough to read before answering DATA."""
    return BytesHeaderParser(policy=policy.compat32).parsebytes(raw)


def header(msg: Message, name: str) -> str:
    try:
        v = msg.get(name)
    except Exception:  # a malformed header the policy cannot fold: treat it as absent
        return ""
    return str(v or "").strip()


def address(value: str) -> str:
    """The bare, lower-case address of a From/Reply-To/envelope value ('' when none)."""
    addr = parseaddr(value.replace("\r", " ").replace("\n", " "))[1].strip().lower()
    return addr if "@" in addr and len(addr) <= 320 else ""


def norm_id(value: str) -> str | None:
    v = value.strip().strip("<>").strip()
    return v[:255] if v and " " not in v else None


def ids_in(value: str) -> list[str]:
    found = re.findall(r"<([^<>\s]+)>", value)
    return [i[:255] for i in found] or ([n] if (n := norm_id(value)) else [])


def automatic(msg: Message, mail_from: str | None) -> str | None:
    """Why a message was sent by a machine that would answer our answer (a loop), or None."""
    if mail_from is not None and mail_from.strip() in ("", "<>"):
        return "null sender (a bounce)"
    auto = header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    prec = header(msg, "Precedence").lower()
    if prec in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {prec}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe",
                 "X-Loop", "X-Vigil-Incident"):
        value = header(msg, name)
        if not value:
            continue
        if name == "X-Auto-Response-Suppress" and value.lower() not in ("all", "oof", "autoreply"):
            continue
        return f"{name}: {value[:60]}"
    ctype = header(msg, "Content-Type").lower()
    if "multipart/report" in ctype:
        return "a delivery report (bounce)"
    local = parseaddr(header(msg, "From"))[1].split("@")[0].lower()
    if local in ("mailer-daemon", "postmaster"):
        return f"sent by {local}"
    return None


def parse(raw: bytes, mail_from: str | None = None) -> Parsed:
    problems: list[str] = []
    # compat32: headers stay strings until asked for, and only the few we use are decoded
    # (_text). policy.default builds a parsed header object on every read: most of a message's
    # parsing time, on the listener's CPU, for headers we then read as plain text.
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    for d in msg.defects:
        problems.append(type(d).__name__)
    subject = clip(_text(msg, "Subject", problems)) or NO_SUBJECT
    sender = address(_text(msg, "From", problems))
    reply_to = address(_text(msg, "Reply-To", problems)) or sender
    message_id = norm_id(_text(msg, "Message-ID", problems))
    refs = ids_in(_text(msg, "In-Reply-To", problems)) + ids_in(_text(msg, "References", problems))
    text, attachments = _body(msg, problems)
    return Parsed(
        subject=subject, sender=sender, reply_to=reply_to, message_id=message_id,
        refs=list(dict.fromkeys(refs)), text=text, details=trim(text), attachments=attachments,
        automatic=automatic(msg, mail_from), problems=problems,
    )


def parse_or_error(raw: bytes, mail_from: str | None = None) -> Parsed | Exception:
    """parse, or the exception it raised: a message already accepted is processed either way."""
    try:
        return parse(raw, mail_from)
    except Exception as e:
        return e


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _text(msg: Message, name: str, problems: list[str]) -> str:
    """A header as text: unfolded, RFC 2047 encoded words decoded, 8-bit bytes read as UTF-8 when
    they are, else latin-1 ("" when absent)."""
    wanted = name.lower()
    value = next((v for k, v in msg.raw_items() if k.lower() == wanted), None)
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if any("\udc80" <= c <= "\udcff" for c in value):  # 8-bit bytes, kept escaped by the parser
        data = value.encode("ascii", "surrogateescape")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("latin-1")
    value = _FOLD.sub("", value)
    if "=?" in value:
        try:
            value = str(make_header(decode_header(value)))
        except (LookupError, UnicodeError):  # a charset Python does not know: latin-1 never fails
            value = "".join(part.decode("latin-1") if isinstance(part, bytes) else part
                            for part, _ in decode_header(value))
        except (HeaderParseError, ValueError) as e:
            problems.append(f"header {name}: {e}")
    return value.strip()


def _content(part: Message, problems: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    charset = part.get_param("charset")
    if charset is None or not isinstance(charset, str):
        # 8-bit text without a charset (a phone, an old script): UTF-8 when it is, else latin-1.
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("latin-1")
    try:
        return payload.decode(charset, errors="replace")
    except LookupError as e:  # a charset Python does not know
        problems.append(f"{part.get_content_type()}: {e}")
        return payload.decode("latin-1")


def _body(msg: Message, problems: list[str]) -> tuple[str, list[Part]]:
    plain: str | None = None
    htm: str | None = None
    attachments: list[Part] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = _filename(part, problems)
        disposition = (part.get_content_disposition() or "")
        if filename or disposition == "attachment" or ctype == "text/calendar" \
                or not (ctype.startswith("text/") or ctype == "message/rfc822"):
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = str(part.get_payload()).encode("utf-8", "replace")
            ext = {"text/calendar": ".ics"}.get(ctype, "")
            attachments.append(Part(filename or f"attachment-{len(attachments) + 1}{ext}", ctype[:127], data))
            continue
        if ctype == "text/plain" and plain is None:
            plain = _content(part, problems)
        elif ctype == "text/html" and htm is None:
            htm = _content(part, problems)
    if plain is None and htm is not None:
        plain = html_to_text(htm)
    return (plain or "").replace("\r\n", "\n").strip(), attachments


def _filename(part: Message, problems: list[str]) -> str:
    try:
        name = part.get_filename() or ""
    except Exception as e:
        problems.append(f"attachment name: {e}")
        name = ""
    return re.sub(r"[\x00-\x1f/\\]", "_", name).strip()[:255]


_BLOCK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d|p|div|tr|li|h\d)\b[^>]*>", re.I)
_DROP = re.compile(r"<\s*(script|style|head|title)\b.*?<\s*/\s*\1\s*>", re.I | re.S)


def html_to_text(source: str) -> str:
    """HTML as readable text: blocks become lines, tags go, entities are decoded."""
    s = _DROP.sub("", source)
    s = re.sub(r"<!--.*?-->", "", s, flags=re.S)
    s = re.sub(r"<\s*blockquote\b[^>]*>", "\n> ", s, flags=re.I)
    s = _BLOCK.sub("\n", s)
    s = re.sub(r"<[^>]+>", "", s)
    s = html.unescape(s).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in s.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where quoted history begins, in the mail programs clients use (English and French).
_QUOTE_HEADS = [
    re.compile(r"^\s*On .{3,200}wrote:\s*$", re.I),  # Gmail, Apple Mail
    re.compile(r"^\s*Le .{3,200}a écrit\s*:\s*$", re.I),  # the same, in French
    re.compile(r"^\s*-{2,}\s*(Original Message|Message d'origine|Forwarded message|Message transféré)\s*-{2,}", re.I),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above the quoted header block
    re.compile(r"^\s*(From|De)\s*:\s*.+$", re.I),  # Outlook: From: ... Sent: ...
]
_SIGNATURE = re.compile(r"^(-- ?|Sent from my .+|Envoyé de mon .+|Get Outlook for .+)$", re.I)


def trim(text: str) -> str:
    """The new part of a reply: cut at the first quoted-history header, '>' lines and the
    signature dropped. Never empty when the text is not (the whole text is the fallback)."""
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _QUOTE_HEADS):
            if _QUOTE_HEADS[-1].match(line) and not _outlook_block(lines, i):
                out.append(line)
                continue
            break
        if _SIGNATURE.match(line.rstrip()):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    trimmed = "\n".join(out).strip()
    return trimmed or text.strip()


def _outlook_block(lines: list[str], i: int) -> bool:
    nxt = " ".join(lines[i + 1:i + 4]).lower()
    return any(w in nxt for w in ("sent:", "envoyé :", "envoyé:", "date:", "to:", "à :", "subject:", "objet"))


def recipients(value: str) -> list[str]:
    return [a.lower() for _, a in getaddresses([value]) if "@" in a]
