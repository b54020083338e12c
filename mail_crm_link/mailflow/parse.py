"""Raw message bytes → ``ParsedMail`` (plain values; sanitizing HTML is the caller's job).

Parsing is total: for any bytes, ``parse`` returns a ``ParsedMail`` and never raises. Every text
value it carries is a ``str`` that PostgreSQL accepts: no NUL, no other C0 control character
(TAB, LF and CR are kept in the bodies), no lone surrogate; one-line values (subject, names,
addresses, Message-IDs, header values, file names) have no line breaks. Sizes are bounded
(``MAX_*`` below): header values, address lists, references, MIME depth and number of parts.

Three flags tell the caller what it must keep:

- ``error``: the mail cannot be read: it is not a mail at all (no sender, no Message-ID, no
  date), its MIME structure is broken and nothing of its content could be read (no text, no
  file), or reading it failed. What could be read (subject, sender, date, Message-ID) is still
  filled in. The caller stores it in error with its raw source.
- ``damaged``: its MIME structure is broken (a missing closing boundary, bad base64 padding, a
  multipart without its end: ``CONTENT_LOSING_DEFECTS``), but its text (plain or HTML) or files
  could still be read, as a mail program shows them (``damage`` decides). The caller stores and
  links it as any mail, marked damaged, with its raw source; a warning names the defects.
  ``damaged`` implies ``degraded``.
- ``degraded``: something was lost or replaced on the way to the stored values: control
  characters removed, a limit cut a header or skipped parts, text read from an unknown or wrong
  charset, a date that could not be read, an address list whose names were dropped. ``warnings``
  says what. The mail is usable, but **the caller must keep the original bytes** (raw source)
  so that nothing is lost. ``error`` implies ``degraded``.

Softer defects that lose nothing (no sender address) are only listed in ``warnings``.
"""

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import errors as email_errors
from email import message_from_bytes
from email.message import Message
from email.utils import parsedate_to_datetime

from .addresses import MAX_LIST_CHARS, normalize, split_addresses
from .text import clean, codec, decode_bytes, decode_words, header_str

# defects that mean part of the message's content is lost
CONTENT_LOSING_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.InvalidBase64CharactersDefect,
    email_errors.InvalidBase64PaddingDefect,
    email_errors.InvalidBase64LengthDefect,
)

# what ``damage`` makes of a mail with CONTENT_LOSING_DEFECTS
INTACT, DAMAGED, UNREADABLE = "", "damaged", "unreadable"

MAX_HEADER_CHARS = 8192  # a header value kept (subject, classification headers)
MAX_ID_CHARS = 500  # Message-ID, In-Reply-To, a reference: indexed columns (btree row < 2.7 kB)
MAX_REFERENCES = 100  # the thread's root and the last 99 ancestors are kept
MAX_REFERENCES_CHARS = 256 * 1024
MAX_ADDRESSES = 1000  # per list (To, Cc, Reply-To)
MAX_HEADER_VALUES = 100  # occurrences of one header read (a To: repeated 10,000 times)
MAX_DEPTH = 32  # MIME nesting read
# Multipart and message/rfc822 containers a mail may declare before its structure is not read at
# all: the email library recurses (and slows down quadratically) on deep nesting, and a real
# mail has a few dozen at most.
MAX_CONTAINERS = 256
MAX_PARTS = 1000  # MIME leaf parts read
MAX_NAME_CHARS = 255  # attachment file names
MAX_HEAD_BYTES = 1024 * 1024  # header block read when the whole message cannot be
MAX_WARNINGS = 50

_MIMETYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


@dataclass
class Attachment:
    name: str
    content: bytes
    mimetype: str
    content_id: str = ""
    damaged: bool = False  # read from a broken part: its content may be incomplete


@dataclass
class ParsedMail:
    """What ``parse`` read of one mail; every ``str`` is clean (see the module docstring).

    The caller keeps the raw source byte-exact when ``error`` or ``degraded`` is set:
    ``error`` stores the mail in error (it shows with its reason and source), ``degraded``
    stores it normally but with the original bytes kept, since something was lost or
    replaced on the way (``warnings`` says what); ``damaged`` (a broken structure whose text
    or files were read) is stored and linked normally too, marked damaged.
    """

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
    # something was lost or replaced (see the module docstring): keep the raw source
    degraded: bool = False
    # broken MIME structure, but text or files read (see ``damage``): implies ``degraded``
    damaged: bool = False
    # ``html`` sanitized by the parse helper (``parse_ahead``); None: the caller sanitizes
    html_clean: str | None = None


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
    value = (value or "").strip() if isinstance(value, str) else header_str(value)[0].strip()
    if not value:
        return ""
    token = value.split()[0]
    return token if token.startswith("<") else f"<{token.strip('<>')}>"


def decode_text(value):
    """A header value (``str``, ``Header``, ``None``…) with RFC 2047 words → one-line ``str``;
    unknown charsets fall back to UTF-8/Windows-1252, control characters go; never raises."""
    text, _exact = header_str(value)
    text, _exact = decode_words(text)
    return clean(text, one_line=True)[0].strip()


def parse(raw, fallback_date=None, fold_plus=False):
    """``raw`` bytes → ParsedMail. Never raises: a mail that cannot be read sets ``error``, one
    whose broken structure still gave text or files sets ``damaged``, one that loses something
    sets ``degraded`` (see the module docstring)."""
    digest = content_hash(raw)
    mail = ParsedMail(dedup_key=dedup_key("", digest), content_hash=digest, size=len(raw))
    try:
        _read(mail, raw, fold_plus)
    except Exception as exc:  # noqa: BLE001 (a limit of the email library: kept in error)
        mail.error = mail.error or f"cannot be read completely: {_exc_text(exc)}"
    try:
        _finish(mail, fallback_date)
    except Exception as exc:  # noqa: BLE001 (never reached; if it is, nothing unsafe leaves)
        mail = ParsedMail(
            dedup_key=dedup_key("", digest),
            content_hash=digest,
            size=len(raw),
            date=_utc(fallback_date) or datetime.now(timezone.utc),
            error=f"cannot be read: {_exc_text(exc)}",
            degraded=True,
        )
    return mail


# -- reading ------------------------------------------------------------------------------------
def _read(mail, raw, fold_plus):
    lowered = raw.lower()
    containers = lowered.count(b"multipart/") + lowered.count(b"message/rfc822")
    del lowered
    msg = None
    if containers > MAX_CONTAINERS:
        mail.error = (
            f"MIME structure too large to read: more than {MAX_CONTAINERS} multipart or "
            "attached message parts"
        )
    else:
        try:
            msg = message_from_bytes(raw)
        except Exception as exc:  # noqa: BLE001 (RecursionError on deep nesting, say)
            mail.error = f"cannot be parsed as an email: {_exc_text(exc)}"
    if msg is None:
        msg = _header_block(raw)
        if msg is not None:
            _read_headers(mail, msg, fold_plus)
        return
    has_date = _read_headers(mail, msg, fold_plus)
    if not mail.sender and not mail.message_id and not has_date:
        mail.error = "not an email: no sender, no Message-ID and no date"
        return
    if not mail.sender:
        mail.warnings.append("no sender address")
    _read_body(mail, msg)


def _header_block(raw):
    """The header block alone, as a Message, or None."""
    head = raw[:MAX_HEAD_BYTES].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    try:
        return message_from_bytes(head + b"\r\n\r\n")
    except Exception:  # noqa: BLE001 (nothing readable)
        return None


def _read_headers(mail, msg, fold_plus):
    """Fill the header fields, each on its own: one unreadable header loses only itself.
    Returns whether the mail has a Date header."""
    steps = (
        ("Message-ID", lambda: _message_id(mail, msg)),
        ("Subject", lambda: setattr(mail, "subject", _header(mail, msg, "Subject", True))),
        ("From", lambda: _sender(mail, msg, fold_plus)),
        ("To", lambda: setattr(mail, "to", _addresses(mail, msg, "To", fold_plus))),
        ("Cc", lambda: setattr(mail, "cc", _addresses(mail, msg, "Cc", fold_plus))),
        (
            "Reply-To",
            lambda: setattr(mail, "reply_to", _addresses(mail, msg, "Reply-To", fold_plus)),
        ),
        ("In-Reply-To", lambda: setattr(mail, "in_reply_to", _one_id(mail, msg, "In-Reply-To"))),
        ("References", lambda: _references(mail, msg)),
        ("classification", lambda: _classify_headers(mail, msg)),
    )
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 (that header is lost, the rest is read)
            _note(mail, f"{name} header unreadable: {_exc_text(exc)}")
    date_value = ""
    try:
        date_value = _header(mail, msg, "Date")
        mail.date = _date(date_value, mail)
    except Exception as exc:  # noqa: BLE001
        _note(mail, f"Date header unreadable: {_exc_text(exc)}")
    return bool(date_value)


def _header_values(mail, msg, name, decode=False, limit=MAX_HEADER_CHARS):
    """Every value of header ``name`` as clean one-line text; what is lost is noted."""
    values = msg.get_all(name) or []
    if len(values) > MAX_HEADER_VALUES:
        _note(mail, f"{name}: {len(values)} headers, the first {MAX_HEADER_VALUES} read")
        values = values[:MAX_HEADER_VALUES]
    result = []
    for value in values:
        text, exact = header_str(value)
        if len(text) > 4 * limit:
            text = text[: 4 * limit]  # decoding shortens; cut again below
        if decode:
            text, decoded = decode_words(text)
            exact = exact and decoded
        text, changed = clean(text, one_line=True)
        text = text.strip()
        if not exact:
            _note(mail, f"{name}: characters not in a known charset, read as a guess")
        if changed:
            _note(mail, f"{name}: control characters removed")
        if len(text) > limit:
            _note(mail, f"{name}: longer than {limit} characters, cut")
            text = text[:limit]
        result.append(text)
    return result


def _header(mail, msg, name, decode=False, limit=MAX_HEADER_CHARS):
    values = _header_values(mail, msg, name, decode, limit)
    return values[0] if values else ""


def _message_id(mail, msg):
    mail.message_id = _one_id(mail, msg, "Message-ID")


def _one_id(mail, msg, name):
    return _cap_id(mail, clean_message_id(_header(mail, msg, name)), name)


def _cap_id(mail, value, name):
    if len(value) <= MAX_ID_CHARS:
        return value
    _note(mail, f"{name}: longer than {MAX_ID_CHARS} characters, cut")
    return value[: MAX_ID_CHARS - 1] + (">" if value.startswith("<") else "")


def _references(mail, msg):
    text = " ".join(_header_values(mail, msg, "References", limit=MAX_REFERENCES_CHARS))
    refs = [_cap_id(mail, clean_message_id(r), "References") for r in text.split()]
    refs = [r for r in refs if r]
    if len(refs) > MAX_REFERENCES:
        _note(mail, f"References: {len(refs)} kept as the first and last {MAX_REFERENCES - 1}")
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    mail.references = refs


def _classify_headers(mail, msg):
    for name in CLASSIFY_HEADERS:
        if msg.get(name) is not None:
            mail.headers[name] = _header(mail, msg, name)


def _sender(mail, msg, fold_plus):
    senders = _addresses(mail, msg, "From", fold_plus)
    if senders:
        mail.sender_name, mail.sender = senders[0]


def _addresses(mail, msg, name, fold_plus):
    """Header ``name`` → [(display name, normalized address)], without duplicates. The list is
    split before its encoded words are decoded: a decoded name may hold ``,`` or ``<``."""
    values = _header_values(mail, msg, name, limit=MAX_LIST_CHARS)
    pairs, note = split_addresses(values)
    if note:
        _note(mail, f"{name}: {note}")
    seen, result = set(), []
    for display, address in pairs:
        norm = normalize(address, fold_plus)
        if not norm or norm in seen:
            continue
        if len(result) >= MAX_ADDRESSES:
            _note(mail, f"{name}: more than {MAX_ADDRESSES} addresses, the rest dropped")
            break
        seen.add(norm)
        display, exact = decode_words(display)
        if not exact:
            _note(mail, f"{name}: a name not in a known charset, read as a guess")
        result.append((clean(display, one_line=True)[0].strip()[:MAX_NAME_CHARS], norm))
    return result


def _date(value, mail):
    """An aware datetime in UTC, or None (noted) when ``value`` cannot be read as one."""
    if not value:
        return None
    try:
        date = parsedate_to_datetime(value)
        if date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
        return date.astimezone(timezone.utc)
    except Exception:  # noqa: BLE001 (TypeError, ValueError, OverflowError…)
        _note(mail, f"unreadable date {value[:100]!r}")
        return None


def _read_body(mail, msg):
    """Walk the MIME tree without recursion, MAX_DEPTH deep and MAX_PARTS leaves at most."""
    defects = []
    stack, leaves = [(msg, 0, False)], 0
    while stack:
        part, depth, cut = stack.pop()
        own = [d for d in part.defects if isinstance(d, CONTENT_LOSING_DEFECTS)]
        defects.extend(own)
        if part.is_multipart():
            if depth >= MAX_DEPTH:
                _note(mail, f"MIME parts nested deeper than {MAX_DEPTH} not read")
                continue
            children = [c for c in part.get_payload() if isinstance(c, Message)]
            stack.extend(
                (child, depth + 1, tail_cut(cut, bool(own), index == len(children) - 1))
                for index, child in reversed(list(enumerate(children)))
            )
            continue
        leaves += 1
        if leaves > MAX_PARTS:
            _note(mail, f"more than {MAX_PARTS} MIME parts: the rest not read")
            break
        try:
            _read_leaf(mail, part, defects, cut)
        except Exception as exc:  # noqa: BLE001 (that part is lost, the others are read)
            _note(mail, f"a MIME part could not be read: {_exc_text(exc)}")
    if not defects:
        return
    names = sorted({type(d).__name__.removesuffix("Defect") for d in defects})
    verdict = damage(names, readable_text(mail.text, mail.html), readable_files(mail.attachments))
    if verdict == DAMAGED:
        mail.damaged = True
        _note(mail, "damaged MIME structure, what could be read is shown: " + ", ".join(names))
    elif verdict == UNREADABLE:
        mail.error = "malformed MIME structure, nothing could be read: " + ", ".join(names)


def tail_cut(parent_cut, parent_broken, last):
    """Whether a MIME part may have been cut short: the last part of a broken multipart (a
    missing closing boundary ends it wherever the mail ends), or any part of one that was."""
    return parent_cut or (parent_broken and last)


def damage(defects, has_text, has_files):
    """What the content-losing ``defects`` (names) of a mail make of it: ``INTACT`` without
    any; ``DAMAGED`` when its text or at least one file could still be read (a mail program
    shows it, so the CRM stores and links it, marked); ``UNREADABLE`` when nothing could."""
    if not defects:
        return INTACT
    return DAMAGED if has_text or has_files else UNREADABLE


_TAG = re.compile(r"<[^>]*>|&nbsp;|&#160;")


def readable_text(text, html):
    """Whether a reader sees any text: plain text, or HTML with something besides tags."""
    return bool((text or "").strip() or _TAG.sub("", html or "").strip())


def readable_files(attachments):
    """Whether at least one file has content."""
    return any(att.content for att in attachments)


def _read_leaf(mail, part, defects, cut=False):
    disposition = _part_header(part, "Content-Disposition").split(";")[0].strip().lower()
    ctype = _content_type(part)
    name = _filename(mail, part, ctype)
    if name or disposition == "attachment":
        payload = _payload(mail, part)
        broken = [d for d in part.defects if isinstance(d, CONTENT_LOSING_DEFECTS)]
        defects.extend(broken)
        content_id = _part_header(part, "Content-ID").strip("<> ")
        mail.attachments.append(
            Attachment(
                name=name or "attachment",
                content=payload,
                mimetype=ctype,
                content_id=content_id[:MAX_ID_CHARS],
                damaged=bool(broken) or cut,
            )
        )
    elif ctype == "text/plain" and not mail.text:
        mail.text = _payload_text(mail, part)
    elif ctype == "text/html" and not mail.html:
        mail.html = _payload_text(mail, part)
    elif ctype.startswith("multipart/") and not mail.text and isinstance(part.get_payload(), str):
        # a multipart whose parts were not found (no boundary): its body, as mail programs
        # show it, when there is one
        body = _payload_text(mail, part)
        if body.strip():
            mail.text = body
            _note(mail, "MIME parts not found: the body is shown as plain text")


def _part_header(part, name):
    text, _exact = header_str(part.get(name))
    return clean(text[:MAX_HEADER_CHARS], one_line=True)[0]


def _content_type(part):
    try:
        ctype = part.get_content_type()
    except Exception:  # noqa: BLE001 (unreadable Content-Type: bytes)
        return "application/octet-stream"
    return (
        ctype
        if isinstance(ctype, str) and _MIMETYPE.fullmatch(ctype)
        else "application/octet-stream"
    )


def _filename(mail, part, ctype):
    """The part's file name, RFC 2231 and RFC 2047 decoded, from headers read as text (raw
    8-bit bytes included: the library would hand those back as ``Header`` objects)."""
    probe, exact = Message(), True
    for header in ("Content-Disposition", "Content-Type"):
        value = part.get(header)
        if value is not None:
            text, ok = header_str(value)
            probe[header] = text[:MAX_HEADER_CHARS]
            exact = exact and ok
    try:
        name = probe.get_filename()
    except Exception:  # noqa: BLE001 (unreadable parameters: no name)
        name = None
    if not name and ctype.startswith("image/") and part.get("Content-ID"):
        name = "image." + ctype.partition("/")[2]
    if not name or not isinstance(name, str):
        return ""
    name, decoded = decode_words(name)
    name, changed = clean(name, one_line=True)
    if not (exact and decoded):
        _note(mail, "an attachment name not in a known charset, read as a guess")
    if changed:
        _note(mail, "an attachment name: control characters removed")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        root, ext = os.path.splitext(name)
        ext = ext if len(ext) < 16 else ""
        name = root[: MAX_NAME_CHARS - len(ext)] + ext
        _note(mail, f"an attachment name longer than {MAX_NAME_CHARS} characters, cut")
    return name


def _payload(mail, part):
    """The part's decoded bytes; its raw text when the transfer encoding cannot be decoded."""
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001
        _note(mail, f"a MIME part could not be decoded: {_exc_text(exc)}")
        try:
            data = str(part.get_payload()).encode("utf-8", "surrogateescape")
        except Exception:  # noqa: BLE001
            data = b""
    return data if isinstance(data, bytes) else b""


def _payload_text(mail, part):
    payload = _payload(mail, part)
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001 (unreadable charset parameter: guessed)
        charset = "x-unknown"
    text, exact = decode_bytes(payload, charset)
    if not exact:
        label = clean(charset or "us-ascii", one_line=True)[0][:64]
        if charset and not codec(charset):
            _note(mail, f"unknown charset {label}")
        else:
            _note(mail, f"text not valid {label}")
    return text


# -- finishing ----------------------------------------------------------------------------------
def _finish(mail, fallback_date):
    """Every text value clean, the identity computed, the date set."""
    mail.message_id = _clean_one(mail, mail.message_id)
    mail.in_reply_to = _clean_one(mail, mail.in_reply_to)
    mail.dedup_key = dedup_key(mail.message_id, mail.content_hash)
    mail.subject = _clean_one(mail, mail.subject)
    mail.sender_name = _clean_one(mail, mail.sender_name)
    mail.sender = _clean_one(mail, mail.sender)
    mail.references = [r for r in (_clean_one(mail, r) for r in mail.references) if r]
    for name in ("to", "cc", "reply_to"):
        pairs = [(_clean_one(mail, n), _clean_one(mail, a)) for n, a in getattr(mail, name)]
        setattr(mail, name, [(n, a) for n, a in pairs if a])
    mail.headers = {_clean_one(mail, str(k)): _clean_one(mail, v) for k, v in mail.headers.items()}
    for att in mail.attachments:
        att.name = _clean_one(mail, att.name) or "attachment"
        att.mimetype = _clean_one(mail, att.mimetype)
        att.content_id = _clean_one(mail, att.content_id)
    text, changed = clean(mail.text)
    html, html_changed = clean(mail.html)
    if changed or html_changed:
        _note(mail, "control characters removed from the body")
    mail.text, mail.html = text, html
    mail.date = mail.date or _utc(fallback_date) or datetime.now(timezone.utc)
    warnings = list(dict.fromkeys(clean(w)[0] for w in mail.warnings))
    if len(warnings) > MAX_WARNINGS:
        warnings = warnings[:MAX_WARNINGS] + [f"and {len(warnings) - MAX_WARNINGS} more"]
    mail.warnings = warnings
    mail.error = clean(mail.error)[0]
    if mail.error:
        mail.degraded = True
        mail.damaged = False
    if mail.damaged:
        mail.degraded = True


def _clean_one(mail, value):
    text, changed = clean(value if isinstance(value, str) else "", one_line=True)
    if changed:
        _note(mail, "control characters removed")
    return text


def _note(mail, warning):
    """Something was lost or replaced: say what, and have the original kept."""
    mail.warnings.append(warning)
    mail.degraded = True


def _utc(date):
    if not isinstance(date, datetime):
        return None
    try:
        return date.astimezone(timezone.utc) if date.tzinfo else date.replace(tzinfo=timezone.utc)
    except (OverflowError, ValueError):
        return None


def _exc_text(exc):
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001
        text = type(exc).__name__
    return text[:200]


ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "X-Forwarded-To", "Envelope-To", "To", "Cc")


def envelope_recipients(raw):
    """The addresses ``raw`` was delivered to: envelope headers (set by the receiving server
    when mail is forwarded) first, then To and Cc. Reads the header block only; never raises."""
    try:
        msg = _header_block(raw)
        if msg is None:
            return []
        values = []
        for name in ENVELOPE_HEADERS:
            for value in (msg.get_all(name) or [])[:MAX_HEADER_VALUES]:
                text, _exact = header_str(value)
                values.append(clean(text[:MAX_LIST_CHARS], one_line=True)[0])
        result = []
        for value in values:  # one list at a time: a broken one loses only itself
            pairs, _note_text = split_addresses([value])
            for _name, address in pairs:
                norm = normalize(address)
                if norm and norm not in result:
                    result.append(norm)
        return result[:MAX_ADDRESSES]
    except Exception:  # noqa: BLE001 (unreadable headers: delivered to nobody we know)
        return []


__all__ = ["Attachment", "ParsedMail", "content_hash", "dedup_key", "normalize", "parse"]
