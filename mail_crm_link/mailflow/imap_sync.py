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

from . import oauth

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
    """Open ``folder`` read-only and return its FolderStatus, as the EXAMINE response
    describes it: the very view of the folder that the next SEARCH and FETCH work on.

    (A STATUS of the selected folder is what RFC 3501 §6.3.10 advises against: a server may
    answer it with a fresher state than the session's view, and a UIDNEXT taken from there
    could move the checkpoint past a mail that the SEARCH did not see yet.)"""
    typ, data = conn.select(quote(folder), readonly=True)
    if typ != "OK":
        raise FolderMissing(folder, data)
    values = {
        key: _last_number(conn.untagged_responses.get(key))
        for key in ("UIDVALIDITY", "UIDNEXT", "EXISTS")
    }
    # an old server (or a proxy) that leaves a count out: asked by STATUS (issue 24: a
    # folder's size is what the listing is checked against)
    counted = "EXISTS" in conn.untagged_responses
    if not values["UIDVALIDITY"] or not values["UIDNEXT"] or not counted:
        typ, data = conn.status(quote(folder), "(UIDVALIDITY UIDNEXT MESSAGES)")
        text = data[0].decode() if typ == "OK" and data and data[0] else ""
        found = dict(re.findall(r"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", text))
        values["UIDVALIDITY"] = values["UIDVALIDITY"] or int(found.get("UIDVALIDITY", 0))
        values["UIDNEXT"] = values["UIDNEXT"] or int(found.get("UIDNEXT", 0))
        values["EXISTS"] = values["EXISTS"] or int(found.get("MESSAGES", 0))
    conn.untagged_responses.clear()  # read: a long-lived connection must not pile them up
    return FolderStatus(values["UIDVALIDITY"], values["UIDNEXT"], values["EXISTS"])


def _last_number(values):
    """The last number among imaplib's collected untagged values (``[b'12']``), or 0."""
    for value in reversed(values or ()):
        match = re.search(rb"\d+", value if isinstance(value, bytes) else str(value).encode())
        if match:
            return int(match.group())
    return 0


def uids_above(conn, last_uid):
    """UIDs of the selected folder above ``last_uid``, as the server knows them now: a NOOP
    first brings the session's view up to date (new mail becomes visible to a session at the
    end of a command), then one ``UID SEARCH``."""
    typ, data = conn.noop()
    if typ != "OK":
        raise imaplib.IMAP4.error(f"NOOP failed: {data}")
    typ, data = conn.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    conn.untagged_responses.clear()
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SEARCH failed: {data}")
    # "N:*" always matches the last message even when N is above it (RFC 3501 §6.4.8)
    return sorted(u for u in {int(x) for x in (data[0] or b"").split()} if u > last_uid)


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


def uids_by_fetch(conn, plan):
    """The UIDs of ``plan`` listed another way than SEARCH (issue 24): ``UID FETCH first:*
    (UID INTERNALDATE)``, one short line per mail, filtered here by the window as SEARCH
    SINCE would (the internal date's day). A cross-check of ``search_uids``."""
    typ, data = conn.uid("FETCH", f"{plan.first_uid}:*", "(UID INTERNALDATE)")
    conn.untagged_responses.clear()
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {data}")
    uids = set()
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if not isinstance(head, bytes):
            continue
        uid = _FETCH_UID.search(head)
        if not uid or int(uid.group(1)) < plan.first_uid:
            continue  # "N:*" also names the last mail when N is above it
        if plan.since:
            date = _FETCH_DATE.search(head)
            try:
                day = datetime.strptime(date.group(1).decode(), "%d-%b-%Y %H:%M:%S %z").date()
            except (AttributeError, ValueError):
                day = None  # no readable date: kept (the store dates it)
            if day is not None and day < plan.since.date():
                continue
        uids.add(int(uid.group(1)))
    return sorted(uids)


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


class UidValidityChanged(imaplib.IMAP4.error):
    """The server renumbered the selected folder during the session (a new UIDVALIDITY):
    the UIDs of what it sends now no longer name what was listed."""

    def __init__(self, folder, old, new):
        super().__init__(f"{folder} ({old} → {new})")
        self.folder, self.old, self.new = folder, old, new


def fetch_batch(conn, uids, uidvalidity=None, folder=None):
    """One ``UID FETCH`` for a batch: [(uid, raw bytes, internal date)] in UID order, for
    the UIDs asked only (issue 24: an answer naming another UID is not what was listed).
    BODY.PEEK[] never sets \\Seen. With ``uidvalidity``, a UIDVALIDITY announced during the
    command that differs from it raises ``UidValidityChanged``: nothing of this answer is
    stored under UIDs that changed meaning."""
    if not uids:
        return []
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
    # NO: the server could not send some of them (Gmail: "Some messages could not be
    # FETCHed"): what it sent is kept, and the caller asks for the others again
    if typ not in ("OK", "NO"):
        raise imaplib.IMAP4.error(f"FETCH failed: {data}")
    announced = _last_number(conn.untagged_responses.pop("UIDVALIDITY", None))
    if uidvalidity and announced and announced != uidvalidity:
        raise UidValidityChanged(folder, uidvalidity, announced)
    asked = set(uids)
    result = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = _FETCH_UID.search(head)
        if not uid:
            continue
        if int(uid.group(1)) not in asked:
            continue
        date = _FETCH_DATE.search(head)
        internal = None
        if date:
            try:
                internal = datetime.strptime(date.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
            except ValueError:
                internal = None
        result.append((int(uid.group(1)), body, internal))
    # one answer per UID: a UID answered twice with different contents is not trusted (the
    # caller finds it missing and asks for it alone)
    best, doubtful = {}, set()
    for item in result:
        if item[0] in best and best[item[0]][1] != item[1]:
            doubtful.add(item[0])
        best[item[0]] = item
    return [best[uid] for uid in sorted(best) if uid not in doubtful]


def existing_uids(conn, uids):
    """Which of ``uids`` the selected folder still holds, by ``UID FETCH set (UID)``: a mail
    deleted since the listing is not an answer the server owes."""
    if not uids:
        return []
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {data}")
    found = set()
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        uid = _FETCH_UID.search(head) if isinstance(head, bytes) else None
        if uid:
            found.add(int(uid.group(1)))
    return sorted(found & set(uids))


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


class _Reader:
    """Every byte the server sends on one connection, read through one buffer.

    imaplib reads through ``socket.makefile()``, a buffered reader that takes whatever the
    socket holds: a ``* 3 EXISTS`` that arrives in the same packet as the line imaplib asked
    for sits in that buffer, where ``select()``/``poll()`` on the socket cannot see it. Here
    imaplib's responses and the lines read while idling go through this one buffer, and a
    wait for a line looks into the buffer before it polls the socket: nothing the server said
    can be skipped or held back.
    """

    CHUNK = 262144

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()
        self.eof = False

    # -- what imaplib calls (blocking, with the socket's timeout) --
    def readline(self, size=-1):
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end >= 0:
                return self._take(end + 1 if size < 0 else min(end + 1, size))
            if 0 <= size <= len(self.buffer):
                return self._take(size)
            start = len(self.buffer)  # look at the new bytes only
            if not self._recv():
                return self._take(len(self.buffer))  # end of stream: what is left

    def read(self, size=-1):  # pylint: disable=method-required-super
        while (size < 0 or len(self.buffer) < size) and self._recv():
            pass
        return self._take(len(self.buffer) if size < 0 else min(size, len(self.buffer)))

    def close(self):
        self.buffer = bytearray()

    # -- waiting with a deadline (IDLE) --
    def has_line(self):
        return b"\n" in self.buffer

    def buffered(self):
        return len(self.buffer)

    def wait_line(self, timeout):
        """The next line if one arrives within ``timeout`` seconds, else None."""
        deadline = time.monotonic() + max(timeout, 0)
        while not self.has_line():
            if not self._readable(deadline - time.monotonic()):
                return None
            if not self._recv():
                raise ConnectionResetError("the server closed the connection")
        return self.readline()

    def _readable(self, timeout):
        if getattr(self.sock, "pending", lambda: 0)():  # TLS: decrypted, not yet read
            return True
        if timeout <= 0:
            return False
        if hasattr(select, "poll"):  # no FD_SETSIZE limit: hundreds of mailboxes
            poller = select.poll()
            poller.register(self.sock, select.POLLIN | select.POLLPRI)
            return bool(poller.poll(timeout * 1000))
        return bool(select.select([self.sock], [], [], timeout)[0])

    def _recv(self):
        if self.eof:
            return False
        chunk = self.sock.recv(self.CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _take(self, size):
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class _OneReader:
    """imaplib's connection with every read going through one ``_Reader``."""

    def open(self, *args, **kwargs):
        result = super().open(*args, **kwargs)
        self.file.close()  # imaplib's makefile(); the socket stays open
        self.file = _Reader(self.sock)
        return result

    def starttls(self, ssl_context=None):
        """As imaplib's, on our reader, and refusing bytes that were sent before the
        handshake but read after it (STARTTLS command injection, CVE-2011-0411's kind)."""
        if self._tls_established:
            raise self.abort("TLS session already established")
        if "STARTTLS" not in self.capabilities:
            raise self.abort("TLS not supported by server")
        typ, dat = self._simple_command("STARTTLS")
        if typ != "OK":
            raise self.error("Couldn't establish TLS session")
        if self.file.buffered():
            raise self.abort("data sent before the TLS handshake: refused")
        self.sock = (ssl_context or ssl.create_default_context()).wrap_socket(
            self.sock, server_hostname=self.host
        )
        self.file = _Reader(self.sock)
        self._tls_established = True
        self._get_capabilities()
        return self._untagged_response(typ, dat, "STARTTLS")


class IMAP4(_OneReader, imaplib.IMAP4):
    pass


class IMAP4_SSL(_OneReader, imaplib.IMAP4_SSL):
    pass


def connect(host, port, security, user, password, timeout=DEFAULT_TIMEOUT, verify=True, token=None):
    """A logged-in IMAP connection. ``security``: 'ssl', 'starttls' or 'none'.
    Every socket operation times out after ``timeout`` seconds.

    ``token``: for an OAuth mailbox, ``token(force)`` returns an ``oauth.Token`` (``force``:
    a new one from the provider); the login is then AUTHENTICATE XOAUTH2, and
    ``conn.token_expires_at`` says until when it holds (None for a password login)."""
    if security == "ssl":
        conn = IMAP4_SSL(host, port, ssl_context=tls_context(verify), timeout=timeout)
    else:
        conn = IMAP4(host, port, timeout=timeout)
        if security == "starttls":
            conn.starttls(tls_context(verify))
    conn.token_expires_at = None
    try:
        if token is None:
            conn.login(user, password)
        else:
            conn.token_expires_at = _authenticate_xoauth2(conn, token)
    except Exception:
        _close(conn)
        raise
    return conn


def _authenticate_xoauth2(conn, token):
    """AUTHENTICATE XOAUTH2 with the stored token; when the server refuses a token that was
    not fetched just now (revoked early, or the server's clock is ahead of ours), once more
    with a fresh one. Returns the expiry of the token that logged in."""
    login = token(False)
    try:
        conn.authenticate("XOAUTH2", oauth.xoauth2_responder(login.sasl))
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error:
        if login.refreshed:
            raise
        login = token(True)
        conn.authenticate("XOAUTH2", oauth.xoauth2_responder(login.sasl))
    return login.expires_at


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


class SessionEnded(imaplib.IMAP4.abort):
    """The server ended the session (``* BYE``); ``token_expired`` when it says the login's
    OAuth token expired (Exchange Online), which a new login with a fresh token mends."""

    def __init__(self, line):
        super().__init__(f"the server ends the session: {line!r}")
        self.token_expired = oauth.session_token_expired(line)


# untagged responses that say the selected folder changed
_CHANGE = re.compile(rb"\* (?:\d+ (?:EXISTS|RECENT|EXPUNGE|FETCH)|VANISHED)\b", re.IGNORECASE)
_EXISTS = re.compile(rb"\* (\d+) EXISTS", re.IGNORECASE)
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n$")


@dataclass
class IdleResult:
    """What the server said during one IDLE: ``lines`` every untagged response (keep-alives
    included), ``changes`` those that announce a change of the folder, ``exists`` the last
    message count announced. True when something changed."""

    lines: list
    changes: list
    exists: int | None = None

    def add(self, line):
        line = line.rstrip(b"\r\n")
        self.lines.append(line)
        if line[:5].upper() == b"* BYE":
            raise SessionEnded(line)
        if _CHANGE.match(line):
            self.changes.append(line)
            exists = _EXISTS.match(line)
            if exists:
                self.exists = int(exists.group(1))

    def __bool__(self):
        return bool(self.changes)


def idle_wait(conn, timeout, stop=None, poll=5.0):
    """IDLE on the selected folder until the server announces a change or ``timeout``
    seconds pass (or ``stop``, a threading.Event, is set: looked at every ``poll`` seconds).
    Returns an IdleResult: every untagged line the server sent, before and after its
    '+ idling', up to the completion of DONE.

    imaplib before Python 3.14 has no IDLE, so the command is spoken here, on the
    connection's one reader (see ``_Reader``): a change announced in the same packet as the
    continuation (Dovecot sends what happened since the last command right away) is seen
    at once.
    """
    if "IDLE" not in conn.capabilities:
        raise imaplib.IMAP4.error("the server does not support IDLE")
    reader = conn.file
    if not isinstance(reader, _Reader):
        raise TypeError("idle_wait needs a connection made by imap_sync.connect()")
    result = IdleResult(lines=[], changes=[])
    tag = conn._new_tag()
    conn.send(tag + b" IDLE\r\n")
    while True:
        line = _response(reader, DEFAULT_TIMEOUT)
        if line is None:
            raise TimeoutError("no answer to IDLE")
        if line.startswith(b"+"):
            break
        if line.startswith(tag + b" "):
            raise imaplib.IMAP4.error(f"IDLE refused: {line!r}")
        result.add(line)  # what changed since our last command may come first
    deadline = time.monotonic() + timeout
    while not result.changes:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (stop is not None and stop.is_set()):
            break
        line = _response(reader, min(remaining, poll) if stop is not None else remaining)
        if line is not None and line.startswith(tag + b" "):  # the server ended IDLE itself
            _check_idle_end(line, tag)
            return result
        if line is not None:
            result.add(line)
    conn.send(b"DONE\r\n")
    while True:  # every line up to our tagged completion
        line = _response(reader, DEFAULT_TIMEOUT)
        if line is None:
            raise TimeoutError("no answer to DONE after IDLE")
        if line.startswith(tag + b" "):
            _check_idle_end(line, tag)
            break
        result.add(line)
    return result


def _check_idle_end(line, tag):
    if not line[len(tag) :].lstrip().upper().startswith(b"OK"):
        raise imaplib.IMAP4.error(f"IDLE ended with {line!r}")


def _response(reader, timeout):
    """One response line (with its literals, if any) within ``timeout`` seconds, or None."""
    line = reader.wait_line(timeout)
    while line is not None and _LITERAL.search(line):
        size = int(_LITERAL.search(line).group(1))
        line += reader.read(size) + reader.readline()
    return line
