"""IMAP planning and transport over an ``imaplib`` connection (no ``odoo`` import).

The server-side mailbox is never changed: folders are opened with EXAMINE (read-only), bodies
are read with BODY.PEEK, no flag is stored, nothing is moved or expunged.
"""

import base64
import contextlib
import imaplib
import re
import select
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

DEFAULT_TIMEOUT = 30  # seconds, on every socket operation

# -- modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------------------------------


def utf7_decode(name):
    def _decode(match):
        chunk = match.group(1)
        if not chunk:
            return "&"
        data = chunk.replace(",", "/")
        data += "=" * (-len(data) % 4)
        return base64.b64decode(data).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", _decode, name)


def utf7_encode(name):
    out, buffer = [], []

    def _flush():
        if buffer:
            data = "".join(buffer).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            buffer.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            _flush()
            out.append("&-" if char == "&" else char)
        else:
            buffer.append(char)
    _flush()
    return "".join(out)


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- folders ----------------------------------------------------------------------------------

# Common names of the Sent and Spam folders when the server announces no SPECIAL-USE,
# lower-case, as mail clients create them in the languages our users read.
SENT_NAMES = {
    "sent",
    "sent items",
    "sent mail",
    "sent messages",
    "[gmail]/sent mail",
    "inbox.sent",
    "inbox/sent",
    "отправленные",
    "отправленные письма",
    "надіслані",
    "відправлені",
    "posta inviata",
    "inviata",
    "elementi inviati",
    "gesendet",
    "envoyés",
    "enviados",
}
SPAM_NAMES = {
    "spam",
    "junk",
    "junk e-mail",
    "junk email",
    "bulk mail",
    "[gmail]/spam",
    "inbox.spam",
    "inbox.junk",
    "спам",
    "нежелательная почта",
    "небажана пошта",
    "posta indesiderata",
}

_LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$')


@dataclass
class Folder:
    name: str  # as the server spells it (modified UTF-7)
    label: str  # decoded, for people
    flags: frozenset
    selectable: bool = True


def parse_list_response(lines):
    """LIST response lines → [Folder]. Handles quoted names and literals ({n} + bytes)."""
    folders = []
    for item in lines:
        if item is None:
            continue
        if isinstance(item, tuple):  # literal: (b'(\\flags) "/" {12}', b'name bytes')
            head, literal = item
            match = _LIST_RE.match(head.rstrip() + b" X")
            raw_name = literal
        else:
            match = _LIST_RE.match(item)
            raw_name = match.group("name") if match else b""
        if not match:
            continue
        name = raw_name.decode("ascii", "replace")
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        flags = frozenset(f.lower() for f in match.group("flags").decode().split())
        folders.append(
            Folder(
                name=name,
                label=utf7_decode(name),
                flags=flags,
                selectable="\\noselect" not in flags and "\\nonexistent" not in flags,
            )
        )
    return folders


def list_folders(conn):
    typ, data = conn.list()
    if typ != "OK":
        raise imaplib.IMAP4.error(f"LIST failed: {data}")
    return parse_list_response(data)


def detect_roles(folders):
    """{'inbox': name, 'sent': name|None, 'spam': name|None}: RFC 6154 SPECIAL-USE first,
    then the common (and localized) names."""
    roles = {"inbox": "INBOX", "sent": None, "spam": None}
    for folder in folders:
        if folder.name.upper() == "INBOX":
            roles["inbox"] = folder.name
    for role, flag, names in (("sent", "\\sent", SENT_NAMES), ("spam", "\\junk", SPAM_NAMES)):
        by_flag = [f for f in folders if flag in f.flags and f.selectable]
        by_name = [f for f in folders if f.label.lower() in names and f.selectable]
        match = (by_flag or by_name or [None])[0]
        roles[role] = match.name if match else None
    return roles


# -- per-folder planning ----------------------------------------------------------------------


@dataclass
class FolderStatus:
    uidvalidity: int
    uidnext: int
    messages: int


@dataclass
class FolderPlan:
    reset: bool  # UIDVALIDITY changed (or first sync): forget the stored last UID
    first_uid: int  # fetch UIDs >= first_uid
    since: datetime | None  # and, on a first import, only mail of the window


def plan_folder(stored_uidvalidity, stored_last_uid, status, window_since, resume_since=None):
    """What to fetch from a folder.

    - first sync, or UIDVALIDITY changed: everything inside the import window (UIDs mean
      nothing any more; the Message-ID/content dedup keeps this from duplicating);
    - an initial import that was interrupted: the UIDs above the last one stored, still
      inside the window it started with (``resume_since``);
    - otherwise: every UID above the last one stored, whatever its date.
    """
    if not stored_uidvalidity or stored_uidvalidity != status.uidvalidity:
        return FolderPlan(reset=True, first_uid=1, since=window_since)
    return FolderPlan(reset=False, first_uid=stored_last_uid + 1, since=resume_since or None)


def examine(conn, folder):
    """Open ``folder`` read-only and return its FolderStatus."""
    typ, data = conn.select(quote(folder), readonly=True)
    if typ != "OK":
        raise FolderMissing(folder, data)
    typ, data = conn.status(quote(folder), "(UIDVALIDITY UIDNEXT MESSAGES)")
    text = data[0].decode() if typ == "OK" and data and data[0] else ""
    values = dict(re.findall(r"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", text))
    return FolderStatus(
        int(values.get("UIDVALIDITY", 0)),
        int(values.get("UIDNEXT", 0)),
        int(values.get("MESSAGES", 0)),
    )


def search_uids(conn, plan):
    """UIDs to fetch, ascending."""
    criteria = [f"UID {plan.first_uid}:*"]
    if plan.since:
        criteria.append("SINCE " + plan.since.strftime("%d-%b-%Y"))
    typ, data = conn.uid("SEARCH", None, *criteria)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SEARCH failed: {data}")
    uids = sorted({int(u) for u in (data[0] or b"").split()})
    # "N:*" always matches the last message even when N is above it (RFC 3501 §6.4.8)
    return [u for u in uids if u >= plan.first_uid]


_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def fetch_sizes(conn, uids):
    """{uid: RFC822.SIZE} for ``uids`` (one command, no body read): the sync cuts its
    batches by bytes with it, so that a few huge mails never sit in memory together."""
    if not uids:
        return {}
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {data}")
    sizes = {}
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if not isinstance(head, bytes):
            continue
        uid, size = _FETCH_UID.search(head), _FETCH_SIZE.search(head)
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


_FETCH_DATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def fetch_batch(conn, uids):
    """One ``UID FETCH`` for a batch: [(uid, raw bytes, internal date)] in UID order.
    BODY.PEEK[] never sets \\Seen."""
    if not uids:
        return []
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {data}")
    result = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = _FETCH_UID.search(head)
        if not uid:
            continue
        date = _FETCH_DATE.search(head)
        internal = None
        if date:
            try:
                internal = datetime.strptime(date.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
            except ValueError:
                internal = None
        result.append((int(uid.group(1)), body, internal))
    return sorted(result, key=lambda r: r[0])


# -- connection -------------------------------------------------------------------------------


class FolderMissing(Exception):
    def __init__(self, folder, detail=None):
        super().__init__(f"folder {folder!r} does not exist on the server")
        self.folder = folder
        self.detail = detail


def tls_context(verify=True):
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(host, port, security, user, password, timeout=DEFAULT_TIMEOUT, verify=True):
    """A logged-in IMAP connection. ``security``: 'ssl', 'starttls' or 'none'.
    Every socket operation times out after ``timeout`` seconds."""
    if security == "ssl":
        conn = imaplib.IMAP4_SSL(host, port, ssl_context=tls_context(verify), timeout=timeout)
    else:
        conn = imaplib.IMAP4(host, port, timeout=timeout)
        if security == "starttls":
            conn.starttls(tls_context(verify))
    try:
        conn.login(user, password)
    except Exception:
        _close(conn)
        raise
    return conn


def _close(conn):
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()  # the connection may already be gone: nothing to close then


close = _close


def append(conn, folder, raw, seen=True, when=None):
    """APPEND ``raw`` to ``folder`` (as a mail client saves what it sent: read)."""
    flags = "(\\Seen)" if seen else "()"
    typ, data = conn.append(
        quote(folder),
        flags,
        imaplib.Time2Internaldate(when or time.time()),
        raw,
    )
    if typ != "OK":
        raise imaplib.IMAP4.error(f"APPEND to {folder} refused: {data!r}")


def append_once(conn, folder, raw, message_id, seen=True):
    """APPEND ``raw`` to ``folder`` unless a mail with ``message_id`` is already there (an
    earlier attempt that stopped before it could record its success). Returns True when
    appended, False when it was there already."""
    examine(conn, folder)
    if message_id:
        typ, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", quote(message_id))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SEARCH in {folder} failed: {data!r}")
        if (data[0] or b"").split():
            return False
    append(conn, folder, raw, seen=seen)
    return True


# -- push (RFC 2177 IDLE) ---------------------------------------------------------------------


def idle_wait(conn, timeout):
    """IDLE on the selected folder until the server announces new mail or ``timeout`` seconds
    pass. True when something changed (EXISTS/RECENT/EXPUNGE), False on timeout.

    imaplib before Python 3.14 has no IDLE, so the command is spoken on its socket here.
    While idling, lines are read straight from the socket (not through imaplib's buffered
    reader, which ``select`` cannot see into); servers send keep-alives (``* OK Still here``)
    that are skipped.
    """
    if "IDLE" not in conn.capabilities:
        raise imaplib.IMAP4.error("the server does not support IDLE")
    tag = conn._new_tag()
    conn.send(tag + b" IDLE\r\n")
    changed = False
    while True:  # the server may first send what changed since our last command
        line = conn.readline()
        if line.startswith(b"+"):
            break
        if not line.startswith(b"*"):
            raise imaplib.IMAP4.error(f"IDLE refused: {line!r}")
        changed = changed or bool(_CHANGE.match(line))
    reader = _SocketLines(conn.socket())
    deadline = time.monotonic() + timeout
    try:
        while not changed:
            line = reader.readline(deadline - time.monotonic())
            if line is None:  # timeout
                break
            changed = bool(_CHANGE.match(line))
    finally:
        conn.send(b"DONE\r\n")
        while True:  # drain untagged lines up to our tagged completion
            line = reader.readline(DEFAULT_TIMEOUT)
            if line is None:
                raise TimeoutError("no answer to DONE after IDLE")
            if _CHANGE.match(line):
                changed = True
            if line.startswith(tag):
                break
    return changed


_CHANGE = re.compile(rb"\* \d+ (EXISTS|RECENT|EXPUNGE)")


class _SocketLines:
    """CRLF lines read straight from a (TLS) socket, with a timeout per call."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def readline(self, timeout):
        deadline = time.monotonic() + max(timeout, 0)
        while b"\n" not in self.buffer:
            pending = getattr(self.sock, "pending", lambda: 0)()
            remaining = deadline - time.monotonic()
            if not pending:
                if remaining <= 0:
                    return None
                ready, _w, _x = select.select([self.sock], [], [], remaining)
                if not ready:
                    return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("the server closed the connection")
            self.buffer += chunk
        line, _sep, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"
