"""A private Dovecot (IMAP + POP3) on 127.0.0.1 for tests, the demo and the benchmark.

Pure Python: nothing here imports ``odoo``, so the demo and the benchmark scripts use it too.

One instance per test session (``get_server()``): started on first use on free loopback ports,
stopped at interpreter exit. Each instance lives in its own temporary folder (config, sockets,
logs, maildirs), so it never touches a system Dovecot and leaves nothing behind.

It offers plain IMAP (with STARTTLS), IMAPS, plain POP3 (with STLS) and POP3S, with a self-signed
certificate, so the TLS paths of the sync can be tested against the real thing.
"""

import atexit
import contextlib
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"

CONFIG_TEMPLATE = """\
# Private test instance of mail_crm_link: never a system service.
base_dir = {root}/run
state_dir = {root}/state
instance_name = mcl-{port_imap}
log_path = {root}/log/dovecot.log
info_log_path = {root}/log/dovecot.log
listen = 127.0.0.1
protocols = imap pop3
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth2_mechanisms}
mail_location = maildir:{root}/mail/%u
mail_plugins =
pop3_uidl_format = %08Xu%08Xv
imap_idle_notify_interval = 2 secs
mailbox_idle_check_interval = 1 secs
login_trusted_networks = 127.0.0.0/8
# room for the benchmark's hundreds of push mailboxes, one IDLE connection (process) each
default_process_limit = 1000
default_client_limit = 4000
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd.d/%u
}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port_imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port_imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port_pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {port_pop3s}
    ssl = yes
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
"""

# The OAuth variant (``DovecotServer(oauth2_introspection_url=...)``): XOAUTH2 and OAUTHBEARER
# logins, each token checked by the introspection endpoint (RFC 7662, POST token=...), whose
# ``username`` must be the login. No cache: every login asks again.
OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""
OAUTH2_CONFIG = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
"""


class DovecotError(RuntimeError):
    """The test Dovecot could not be started or driven: tests fail loudly, never skip."""


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise DovecotError(f"Dovecot did not open port {port} within {timeout:.0f}s")


class DovecotServer:
    """A private Dovecot instance. ``root`` may be given to keep state across runs (demo)."""

    host = "127.0.0.1"

    def __init__(self, root=None, ports=None, oauth2_introspection_url=None):
        if not os.path.exists(DOVECOT):
            raise DovecotError(
                "Dovecot is not installed (Debian packages dovecot-imapd and dovecot-pop3d); "
                "`make test` installs them when run as root."
            )
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="mcl-dovecot-")
        ports = ports or {}
        self.port_imap = ports.get("imap") or free_port()
        self.port_imaps = ports.get("imaps") or free_port()
        self.port_pop3 = ports.get("pop3") or free_port()
        self.port_pop3s = ports.get("pop3s") or free_port()
        self.config = os.path.join(self.root, "dovecot.conf")
        self.users = {}
        self.running = False
        self.oauth2_introspection_url = oauth2_introspection_url

    # -- lifecycle ---------------------------------------------------------------------------
    def _prepare(self):
        os.chmod(self.root, 0o755)  # login processes run as dovenull and need to traverse it
        for sub in ("run", "state", "log", "tls", "mail", "home", "passwd.d"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        for sub in ("mail", "home"):
            shutil.chown(os.path.join(self.root, sub), "nobody", "nogroup")
        cert = os.path.join(self.root, "tls", "cert.pem")
        if not os.path.exists(cert):
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "3650",
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    os.path.join(self.root, "tls", "key.pem"),
                    "-out",
                    cert,
                ],
                check=True,
                capture_output=True,
            )
        passwd_dir = os.path.join(self.root, "passwd.d")
        for login in os.listdir(passwd_dir):  # a kept root (demo) keeps its users
            with open(os.path.join(passwd_dir, login), encoding="utf-8") as handle:
                self.users[login] = handle.read().split(":")[1].removeprefix("{PLAIN}")
        oauth2 = self.oauth2_introspection_url
        if oauth2:
            with open(os.path.join(self.root, "dovecot-oauth2.conf.ext"), "w") as handle:
                handle.write(OAUTH2_CONFIG.format(url=oauth2))
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write(
                CONFIG_TEMPLATE.format(
                    oauth2_mechanisms=" xoauth2 oauthbearer" if oauth2 else "",
                    oauth2_passdb=OAUTH2_PASSDB.format(root=self.root) if oauth2 else "",
                    root=self.root,
                    port_imap=self.port_imap,
                    port_imaps=self.port_imaps,
                    port_pop3=self.port_pop3,
                    port_pop3s=self.port_pop3s,
                )
            )

    @property
    def cert_path(self):
        return os.path.join(self.root, "tls", "cert.pem")

    @property
    def log_path(self):
        return os.path.join(self.root, "log", "dovecot.log")

    def start(self):
        if self.running:
            return self
        self._prepare()
        # The daemon's children inherit our descriptors: never hand them a pipe we wait on.
        startup_log = os.path.join(self.root, "log", "startup.log")
        with open(startup_log, "w", encoding="utf-8") as out:
            result = subprocess.run(
                [DOVECOT, "-c", self.config],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                check=False,
            )
        if result.returncode:
            with open(startup_log, encoding="utf-8") as out:
                raise DovecotError(f"dovecot failed to start: {out.read().strip()}")
        try:
            for port in (self.port_imap, self.port_imaps, self.port_pop3, self.port_pop3s):
                _wait_port(port)
        except DovecotError:
            raise DovecotError(f"{self.log_tail()}") from None
        self.running = True
        return self

    def stop(self):
        if not self.running:
            return
        subprocess.run([DOVEADM, "-c", self.config, "stop"], capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(
            os.path.join(self.root, "run", "master.pid")
        ):
            time.sleep(0.05)
        self.running = False

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines=20):
        with contextlib.suppress(OSError), open(self.log_path, encoding="utf-8") as handle:
            return "".join(handle.readlines()[-lines:])
        return ""

    # -- users -------------------------------------------------------------------------------
    def add_user(self, login, password="secret"):
        """Create a mail user, or change its password.

        One passwd file per user: Dovecot stats a passwd-file at most once a second, so a user
        added to a shared file right after a login would not be seen; a new file is read fresh.
        A password change of an existing user is seen after that second has passed.
        """
        self.users[login] = password
        path = os.path.join(self.root, "passwd.d", login)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(f"{login}:{{PLAIN}}{password}::::::\n")
        os.replace(path + ".tmp", path)
        return login

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
        with self.imap(login) as conn:
            if special_use:
                typ, data = conn._simple_command("CREATE", _quote(folder), f"(USE ({special_use}))")
            else:
                typ, data = conn.create(_quote(folder))
            if typ != "OK" and b"already exists" not in b" ".join(d or b"" for d in data):
                raise DovecotError(f"CREATE {folder}: {data}")

    def append(self, login, raw, folder="INBOX", seen=False, flags=(), date=None):
        """APPEND ``raw`` (bytes) into ``folder``; returns the new UID (UIDPLUS)."""
        all_flags = list(flags) + (["\\Seen"] if seen else [])
        flag_str = "(" + " ".join(all_flags) + ")" if all_flags else None
        internal = imaplib.Time2Internaldate(date) if date is not None else None
        with self.imap(login) as conn:
            typ, data = conn.append(_quote(folder), flag_str, internal, raw)
            if typ != "OK":
                raise DovecotError(f"APPEND to {folder} failed: {data}")
            code = conn.untagged_responses.get("APPENDUID") or [data[0]]
            text = code[-1].decode() if isinstance(code[-1], bytes) else str(code[-1])
            return int(text.replace("]", " ").split()[-1 if "APPENDUID" not in text else 2])

    def append_many(self, login, raws, folder="INBOX", seen=False):
        """APPEND many messages over one connection (bench corpus); returns the count."""
        with self.imap(login) as conn:
            for raw in raws:
                typ, data = conn.append(_quote(folder), "(\\Seen)" if seen else None, None, raw)
                if typ != "OK":
                    raise DovecotError(f"APPEND to {folder} failed: {data}")
        return len(raws)

    def flags(self, login, folder="INBOX"):
        """{uid: set(flags)} of every message in ``folder``, read with EXAMINE (read-only)."""
        with self.imap(login) as conn:
            conn.select(_quote(folder), readonly=True)
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
            conn.select(_quote(folder))
            conn.uid("STORE", str(uid), "+FLAGS" if seen else "-FLAGS", "(\\Seen)")

    def count(self, login, folder="INBOX"):
        with self.imap(login) as conn:
            _typ, data = conn.status(_quote(folder), "(MESSAGES)")
            return int(data[0].decode().rsplit("MESSAGES", 1)[1].strip(" )"))

    def uidvalidity(self, login, folder="INBOX"):
        with self.imap(login) as conn:
            _typ, data = conn.status(_quote(folder), "(UIDVALIDITY)")
            return int(data[0].decode().rsplit("UIDVALIDITY", 1)[1].strip(" )"))

    def change_uidvalidity(self, login, folder="INBOX"):
        """Force a new UIDVALIDITY on ``folder`` (as after a server migration): UIDs restart."""
        new = self.uidvalidity(login, folder) + 1000
        result = subprocess.run(
            [
                DOVEADM,
                "-c",
                self.config,
                "mailbox",
                "update",
                "-u",
                login,
                "--uid-validity",
                str(new),
                folder,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise DovecotError(f"doveadm mailbox update failed: {result.stderr.strip()}")
        return new


def _quote(folder):
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SERVER = None


def get_server():
    """The test session's Dovecot: started once, stopped when the interpreter exits."""
    global _SERVER
    if _SERVER is None:
        _SERVER = DovecotServer().start()
        atexit.register(_SERVER.cleanup)
    elif not _SERVER.running:
        _SERVER.start()
    return _SERVER
