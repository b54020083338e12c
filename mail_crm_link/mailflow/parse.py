"""Raw message bytes → ``ParsedMail`` (plain values; sanitizing HTML is the caller's job).

A message is *malformed* (``ParsedMail.error`` set, raw source kept by the caller) when it
cannot be read as mail at all or when its MIME structure loses content (a missing boundary,
undecodable base64). Softer defects (unknown charset, bad date) are decoded as well as possible
and listed in ``warnings``.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import errors as email_errors
from email import message_from_bytes
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

from .addresses import normalize, parse_list

# defects that mean part of the message's content is lost
CONTENT_LOSING_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.InvalidBase64CharactersDefect,
    email_errors.InvalidBase64PaddingDefect,
    email_errors.InvalidBase64LengthDefect,
)


@dataclass
class Attachment:
    name: str
    content: bytes
    mimetype: str
    content_id: str = ""


@dataclass
class ParsedMail:
    dedup_key: str
    content_hash: str
    size: int
    message_id: str = ""
    subject: str = ""
    date: datetime | None = None
    sender_name: str = ""
    sender: str = ""  # normalized address
    to: list = field(default_factory=list)  # [(name, normalized address)]
    cc: list = field(default_factory=list)
    reply_to: list = field(default_factory=list)
    in_reply_to: str = ""
    references: list = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list = field(default_factory=list)
    headers: dict = field(default_factory=dict)  # lower-case name → str, the ones we classify on
    warnings: list = field(default_factory=list)
    error: str = ""


CLASSIFY_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "content-type",
    "x-failed-recipients",
)


def content_hash(raw):
    return hashlib.sha256(raw).hexdigest()


def dedup_key(message_id, digest):
    """Identity of a message inside one mailbox: its Message-ID, else its content hash."""
    return message_id if message_id else f"sha256:{digest}"


def clean_message_id(value):
    value = (value or "").strip()
    if not value:
        return ""
    token = value.split()[0]
    return token if token.startswith("<") else f"<{token.strip('<>')}>"


def decode_text(value):
    """An RFC 2047 header → str; unknown charsets fall back to latin-1, never raise."""
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value)))).strip()
    except (LookupError, UnicodeError, email_errors.HeaderParseError):
        parts = []
        for chunk, charset in decode_header(str(value)):
            if isinstance(chunk, bytes):
                try:
                    parts.append(chunk.decode(charset or "ascii"))
                except (LookupError, UnicodeError):
                    parts.append(chunk.decode("latin-1"))
            else:
                parts.append(chunk)
        return "".join(parts).strip()


def _payload_text(part, warnings):
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset)
    except LookupError:
        warnings.append(f"unknown charset {charset}")
    except UnicodeDecodeError:
        warnings.append(f"text not valid {charset}")
    for fallback in ("utf-8", "windows-1252"):
        try:
            return payload.decode(fallback)
        except UnicodeDecodeError:
            continue
    return payload.decode("latin-1")


def _filename(part):
    name = part.get_filename()
    if name is None and part.get_content_maintype() == "image" and part.get("Content-ID"):
        name = "image." + part.get_content_subtype()
    return decode_text(name) if name else ""


def parse(raw, fallback_date=None, fold_plus=False):
    """``raw`` bytes → ParsedMail. Never raises for bad input: sets ``error`` instead."""
    digest = content_hash(raw)
    mail = ParsedMail(dedup_key=dedup_key("", digest), content_hash=digest, size=len(raw))
    try:
        msg = message_from_bytes(raw)
    except Exception as exc:  # noqa: BLE001 (any failure: the mail is kept in error)
        mail.error = f"cannot be parsed as an email: {exc}"
        return mail
    mail.message_id = clean_message_id(msg.get("Message-ID"))
    mail.dedup_key = dedup_key(mail.message_id, digest)
    mail.subject = decode_text(msg.get("Subject"))
    from_list = parse_list([decode_text(v) for v in msg.get_all("From", [])], fold_plus)
    if from_list:
        mail.sender_name, mail.sender = from_list[0]
    mail.to = parse_list([decode_text(v) for v in msg.get_all("To", [])], fold_plus)
    mail.cc = parse_list([decode_text(v) for v in msg.get_all("Cc", [])], fold_plus)
    mail.reply_to = parse_list([decode_text(v) for v in msg.get_all("Reply-To", [])], fold_plus)
    mail.in_reply_to = clean_message_id(msg.get("In-Reply-To"))
    mail.references = [clean_message_id(r) for r in str(msg.get("References") or "").split()]
    mail.headers = {h: str(msg.get(h)) for h in CLASSIFY_HEADERS if msg.get(h) is not None}
    mail.date = _date(msg.get("Date"), mail.warnings) or fallback_date or datetime.now(timezone.utc)
    if not mail.sender and not mail.message_id and not msg.get("Date"):
        mail.error = "not an email: no sender, no Message-ID and no date"
        return mail
    if not mail.sender:
        mail.warnings.append("no sender address")

    defects = []
    for part in msg.walk():
        defects.extend(d for d in part.defects if isinstance(d, CONTENT_LOSING_DEFECTS))
        if part.is_multipart():
            continue
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        name = _filename(part)
        ctype = part.get_content_type()
        if name or disposition == "attachment":
            payload = part.get_payload(decode=True) or b""
            defects.extend(d for d in part.defects if isinstance(d, CONTENT_LOSING_DEFECTS))
            mail.attachments.append(
                Attachment(
                    name=name or "attachment",
                    content=payload,
                    mimetype=ctype,
                    content_id=(part.get("Content-ID") or "").strip("<> "),
                )
            )
        elif ctype == "text/plain" and not mail.text:
            mail.text = _payload_text(part, mail.warnings)
        elif ctype == "text/html" and not mail.html:
            mail.html = _payload_text(part, mail.warnings)
    if defects:
        names = sorted({type(d).__name__.removesuffix("Defect") for d in defects})
        mail.error = "malformed MIME structure, content would be lost: " + ", ".join(names)
    return mail


ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "X-Forwarded-To", "Envelope-To", "To", "Cc")


def envelope_recipients(raw):
    """The addresses ``raw`` was delivered to: envelope headers (set by the receiving server
    when mail is forwarded) first, then To and Cc. Reads the header block only."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    try:
        msg = message_from_bytes(head)
    except Exception:  # noqa: BLE001 (unreadable headers: delivered to nobody we know)
        return []
    values = [decode_text(v) for h in ENVELOPE_HEADERS for v in msg.get_all(h, [])]
    return [a for _n, a in parse_list(values)]


def _date(value, warnings):
    if not value:
        return None
    try:
        date = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        warnings.append(f"unreadable date {value!r}")
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return date


__all__ = ["Attachment", "ParsedMail", "content_hash", "dedup_key", "normalize", "parse"]
