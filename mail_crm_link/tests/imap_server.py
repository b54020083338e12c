"""What the private Cyrus and Courier test servers share (see cyrus.py, courier.py).

Pure Python: nothing here imports ``odoo``.

Both are Debian packages that conflict with Dovecot (all three provide ``imap-server``), so they
are never installed: ``tools/setup.sh`` downloads their .deb files and unpacks them into
``~/.cache/mail_crm_link/imap-servers/<server>`` (``MCL_IMAP_SERVERS`` moves that folder), and the
tests run the binaries from there. The helpers below speak IMAP as the mail user, so a test sees
the mailbox exactly as a mail client (and the sync) does. Their API is DovecotServer's.
"""

import atexit
import contextlib
import imaplib
import os
import shutil
import socket
import subprocess
import time

IMAP_SERVERS_HOME = os.environ.get("MCL_IMAP_SERVERS") or os.path.expanduser(
    "~/.cache/mail_crm_link/imap-servers"
)


class ImapServerError(RuntimeError):
    """A test IMAP server could not be started or driven: tests fail loudly, never skip."""


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quote(folder):
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def package_tree(server):
    """The unpacked Debian packages of ``server`` ('cyrus' or 'courier'), or a loud error."""
    path = os.path.join(IMAP_SERVERS_HOME, server)
    if not os.path.exists(os.path.join(path, ".complete")):
        raise ImapServerError(
            f"The {server} IMAP server is not unpacked in {path}: run `make setup` as root "
            "(it downloads the Debian packages and unpacks them there, without installing them)."
        )
    return path


class ImapTestServer:
    """A private IMAP server on 127.0.0.1 (plain IMAP only), driven through IMAP."""

    host = "127.0.0.1"
    name = "IMAP"
    port_imaps = port_pop3 = port_pop3s = None  # plain IMAP only
    personal_prefix = ""  # how a folder under the inbox is spelled: "INBOX." on Courier
    special_use = True  # CREATE ... (USE (\Sent)) is honoured (RFC 6154)

    def __init__(self, port=None):
        self.port_imap = port or free_port()
        self.users = {}
        self.running = False
        self.process = None
        self.root = None

    # -- lifecycle (start/_stop_process are the server's own) --------------------------------
    def start(self):
        raise NotImplementedError

    def stop(self):
        if not self.running:
            return
        self.running = False
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        self.stop()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def log_path(self):
        return os.path.join(self.root, "log", "server.log")

    def log_tail(self, lines=20):
        with contextlib.suppress(OSError), open(self.log_path, encoding="utf-8") as handle:
            return "".join(handle.readlines()[-lines:])
        return ""

    def _wait_started(self, timeout=20.0):
        """Wait until the server greets on its port; a loud error if it exits or stays mute."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ImapServerError(
                    f"{self.name} exited with status {self.process.returncode} at start: "
                    f"{self.log_tail() or 'nothing logged'}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port_imap), 1) as sock,
            ):
                sock.settimeout(5)
                if sock.recv(200).startswith(b"* OK"):
                    self.running = True
                    return self
            time.sleep(0.05)
        raise ImapServerError(
            f"{self.name} did not greet on port {self.port_imap} within {timeout:.0f}s: "
            f"{self.log_tail() or 'nothing logged'}"
        )

    # -- folders as this server spells them ----------------------------------------------------
    def folder(self, name):
        """The server's name of a personal folder: ``folder('Sent')`` is 'INBOX.Sent' on
        Courier, 'INBOX/Sent' on Cyrus."""
        return "INBOX" if name.upper() == "INBOX" else self.personal_prefix + name

    # -- IMAP helpers (as the mail user, through the real protocol) --------------------------
    @contextlib.contextmanager
    def imap(self, login):
        conn = imaplib.IMAP4(self.host, self.port_imap, timeout=15)
        try:
            conn.login(login, self.users[login])
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def create_folder(self, login, folder, special_use=None):
        """CREATE ``folder`` (with its SPECIAL-USE where the server supports it)."""
        with self.imap(login) as conn:
            if special_use and self.special_use:
                typ, data = conn._simple_command("CREATE", quote(folder), f"(USE ({special_use}))")
            else:
                typ, data = conn.create(quote(folder))
            text = b" ".join(d or b"" for d in data).lower()
            if typ != "OK" and b"already exists" not in text and b"exists" not in text:
                raise ImapServerError(f"CREATE {folder} on {self.name}: {data}")

    def append(self, login, raw, folder="INBOX", seen=False, flags=(), date=None):
        """APPEND ``raw`` (bytes) into ``folder``; returns the new UID (UIDPLUS)."""
        all_flags = list(flags) + (["\\Seen"] if seen else [])
        flag_str = "(" + " ".join(all_flags) + ")" if all_flags else None
        internal = imaplib.Time2Internaldate(date) if date is not None else None
        with self.imap(login) as conn:
            typ, data = conn.append(quote(folder), flag_str, internal, raw)
            if typ != "OK":
                raise ImapServerError(f"APPEND to {folder} on {self.name} failed: {data}")
            text = data[-1].decode() if isinstance(data[-1], bytes) else str(data[-1])
            if "APPENDUID" not in text:
                raise ImapServerError(f"{self.name} gave no APPENDUID: {data}")
            return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])

    def append_many(self, login, raws, folder="INBOX", seen=False):
        """APPEND many messages over one connection; returns the count."""
        with self.imap(login) as conn:
            for raw in raws:
                typ, data = conn.append(quote(folder), "(\\Seen)" if seen else None, None, raw)
                if typ != "OK":
                    raise ImapServerError(f"APPEND to {folder} on {self.name} failed: {data}")
        return len(raws)

    def flags(self, login, folder="INBOX"):
        """{uid: set(flags)} of every message in ``folder``, read with EXAMINE (read-only)."""
        with self.imap(login) as conn:
            conn.select(quote(folder), readonly=True)
            _typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            result = {}
            for item in data:
                if not item:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                parsed = imaplib.ParseFlags(text.encode())
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                result[uid] = {f.decode() for f in parsed}
            return result

    def set_seen(self, login, uid, seen=True, folder="INBOX"):
        with self.imap(login) as conn:
            conn.select(quote(folder))
            conn.uid("STORE", str(uid), "+FLAGS" if seen else "-FLAGS", "(\\Seen)")

    def count(self, login, folder="INBOX"):
        with self.imap(login) as conn:
            _typ, data = conn.status(quote(folder), "(MESSAGES)")
            return int(data[0].decode().rsplit("MESSAGES", 1)[1].strip(" )").split()[0])

    def uidvalidity(self, login, folder="INBOX"):
        with self.imap(login) as conn:
            _typ, data = conn.status(quote(folder), "(UIDVALIDITY)")
            return int(data[0].decode().rsplit("UIDVALIDITY", 1)[1].strip(" )").split()[0])


def session_server(cls):
    """A ``get_server()`` for ``cls``: one instance per test session, started on first use,
    stopped (and its folder removed) when the interpreter exits."""
    instance = {}

    def get_server():
        server = instance.get("server")
        if server is None:
            server = instance["server"] = cls()
            atexit.register(server.cleanup)
        if not server.running:
            server.start()
        return server

    return get_server
