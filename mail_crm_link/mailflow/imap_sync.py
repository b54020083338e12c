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

# The roles a folder can have. Only the inbox and Sent are synchronized by default: Spam never;
# Drafts, Trash and "All Mail" (Gmail's folder that holds every mail again) are not CRM mail.
ROLES = ("inbox", "sent", "spam", "drafts", "trash", "all")

# RFC 6154 SPECIAL-USE attributes (lower-case, as parsed) -> role
SPECIAL_USE_ROLES = {
    "\\sent": "sent",
    "\\junk": "spam",
    "\\drafts": "drafts",
    "\\trash": "trash",
    "\\all": "all",
}

# Common names of these folders when the server announces no SPECIAL-USE (Exchange and
# Microsoft 365, Courier, older servers), lower-case, as mail clients and providers create them
# in the languages our users read; matched on the name under a personal prefix ("INBOX." on
# Courier, "INBOX/" on Cyrus) or Gmail's "[Gmail]/" ("[Google Mail]/" in Germany and the UK).
ROLE_NAMES = {
    "sent": {
        "sent",
        "sent items",
        "sent mail",
        "sent messages",
        "отправленные",
        "отправленные письма",
        "надіслані",
        "відправлені",
        "posta inviata",
        "inviata",
        "inviati",
        "elementi inviati",
        "gesendet",
        "gesendete elemente",
        "gesendete objekte",
        "envoyés",
        "éléments envoyés",
        "enviados",
        "elementos enviados",
    },
    "spam": {
        "spam",
        "junk",
        "junk e-mail",
        "junk email",
        "junk mail",
        "bulk mail",
        "спам",
        "нежелательная почта",
        "небажана пошта",
        "posta indesiderata",
        "junk-e-mail",
        "courrier indésirable",
        "correo no deseado",
    },
    "drafts": {
        "drafts",
        "draft",
        "черновики",
        "чернетки",
        "bozze",
        "entwürfe",
        "brouillons",
        "borradores",
    },
    "trash": {
        "trash",
        "bin",
        "deleted items",
        "deleted messages",
        "корзина",
        "удаленные",
        "удалённые",
        "кошик",
        "видалені",
        "cestino",
        "posta eliminata",
        "elementi eliminati",
        "papierkorb",
        "gelöschte elemente",
        "corbeille",
        "éléments supprimés",
        "papelera",
        "elementos eliminados",
    },
    "all": {
        "all mail",
        "вся почта",
        "уся пошта",
        "tutti i messaggi",
        "alle nachrichten",
        "tous les messages",
    },
}
# Prefixes under which providers put the folders above: the personal namespace of servers that
# keep every folder under INBOX, and Gmail's own folder.
ROLE_PREFIXES = ("inbox", "[gmail]", "[google mail]")

_LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<sep>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')


@dataclass
class Folder:
    name: str  # as the server spells it (modified UTF-7)
    label: str  # decoded, for people
    flags: frozenset  # LIST attributes, lower-case: \\noselect, \\sent, \\all ...
    selectable: bool = True
    delimiter: str | None = None  # the hierarchy separator ("/" or "."), None when flat

    @property
    def special_use(self):
        """The role its RFC 6154 attribute gives it, or None."""
        for flag, role in SPECIAL_USE_ROLES.items():
            if flag in self.flags:
                return role
        return None

    @property
    def short_label(self):
        """The label under a provider's prefix: "INBOX.Sent" -> "Sent",
        "[Gmail]/Sent Mail" -> "Sent Mail", "Clients/Sent" stays."""
        if self.delimiter:
            head, sep, rest = self.label.partition(self.delimiter)
            if sep and rest and head.lower() in ROLE_PREFIXES:
                return rest
        return self.label


def _unquote(text):
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


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
        name = _unquote(raw_name.decode("ascii", "replace"))
        sep = match.group("sep").decode("ascii", "replace")
        flags = frozenset(f.lower() for f in match.group("flags").decode().split())
        folders.append(
            Folder(
                name=name,
                label=utf7_decode(name),
                flags=flags,
                selectable="\\noselect" not in flags and "\\nonexistent" not in flags,
                delimiter=None if sep == "NIL" else _unquote(sep) or None,
            )
        )
    return folders


def list_folders(conn):
    """Every folder of the account. Servers that support RFC 6154 with LIST-EXTENDED may give
    the SPECIAL-USE attributes only when asked (Cyrus without ``specialusealways``): ask."""
    typ, data = conn.capability()  # after login: the greeting's list may be shorter
    capabilities = set((data[-1] or b"").decode().upper().split()) if typ == "OK" else set()
    if {"SPECIAL-USE", "LIST-EXTENDED"} <= capabilities:
        typ, data = conn._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        typ, data = conn._untagged_response(typ, data, "LIST")
    else:
        typ, data = conn.list()
    if typ != "OK":
        raise imaplib.IMAP4.error(f"LIST failed: {data}")
    return parse_list_response(data)


def detect_roles(folders):
    """{role: folder name or None} for every role of ROLES ('inbox' is always set).

    RFC 6154 SPECIAL-USE first; then, for a role no folder announces, the common (and
    localized) names, under a provider's prefix or not. A folder that announces one role never
    gets another by its name (Gmail's "\\All" folder is never the inbox or Sent)."""
    roles = dict.fromkeys(ROLES)
    roles["inbox"] = "INBOX"
    for folder in folders:
        if folder.name.upper() == "INBOX":
            roles["inbox"] = folder.name
    candidates = [f for f in folders if f.selectable and f.name.upper() != "INBOX"]
    for role in ROLES[1:]:
        by_flag = [f for f in candidates if f.special_use == role]
        by_name = [
            f for f in candidates if not f.special_use and f.short_label.lower() in ROLE_NAMES[role]
        ]
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
