"""A private GNU Mailutils imap4d 3.15 (Debian's mailutils-imap4d, unpacked, never installed)
on 127.0.0.1.

Pure Python: nothing here imports ``odoo``. One instance per test session (``get_server()``).

How it runs (as the user running the tests, root here, with the Debian package's own binary
from the unpacked tree):

- ``imap4d --no-site-config --config-file=<root>/mailutils.conf --daemon --foreground``: the
  private configuration replaces /etc/mailutils.conf; ``server 127.0.0.1:<port> {}`` is the
  listener, ``logging { syslog no; }`` sends the diagnostics to stderr (the log file).
- Users: ``auth { authorization virtdomain; authentication generic; }``. A login
  ``local@domain`` is looked up in ``virtdomain { passwd-dir }``/<domain>, a passwd-style file
  (``local:<crypt hash>:uid:gid::<home>:``) read again at each login; ``generic`` compares the
  crypt(3) hash (SHA-512 here, by the system's libcrypt). No PAM, no system user: virtdomain
  users are not switched to (imap4d keeps the daemon's uid), so the mail is the test runner's.
- Layout: mbox files in the user's home (Mailutils' default format, its best supported: APPEND
  keeps the flags and the internal date, which its maildir in 3.15 drops). INBOX is
  ``<home>/INBOX``, the personal namespace ``""`` with separator ``/`` is the home: folders are
  ``Sent`` and ``Junk`` at the top level, as on Dovecot.
- No SPECIAL-USE (CREATE ... (USE ...) is a BAD): Sent and Junk are found by their names.
- No UIDPLUS: ``append`` reads the new UID back (the last message of the folder). An APPEND
  of a message without a From: header is refused (``NO [TRYCREATE]``: no mbox envelope).
- An APPEND without a date-time takes the message's Date: header as its internal date (the
  mbox envelope), not the time of the APPEND (RFC 3501's SHOULD): the helpers here give the
  current time, as a delivery by the mail system would stamp the envelope.
- ``UID SEARCH UID <n>:*`` finds nothing (imap4d parses that set without its mailbox, so ``*``
  has no value; and it matches the set against sequence numbers): the sync's SEARCH of new
  mail comes back empty, and its listing by ``UID FETCH`` (the cross-check) finds the mail.
- IDLE is announced but never reports anything: imap4d's IDLE waits for DONE and looks at the
  mailbox only when the client sends another line, so push cannot be tested on it.
- UIDVALIDITY and UIDs live in the mbox itself (``X-IMAPbase`` in the first message, ``X-UID``
  in each). An empty mbox has nowhere to keep it: each session that opens an empty folder gets
  a new UIDVALIDITY (the clock), which stays from the first message on.
"""

import contextlib
import ctypes
import ctypes.util
import imaplib
import os
import re
import secrets
import signal
import string
import subprocess
import tempfile
import time

from .imap_server import ImapServerError, ImapTestServer, package_tree, quote, session_server

MAILUTILS_CONF = """\
# Private test instance of mail_crm_link: never a system service.
logging {{
  syslog no;
  severity info;
}};
auth {{
  authorization virtdomain;
  authentication generic;
}};
virtdomain {{
  passwd-dir "{root}/passwd";
}};
mailbox {{
  mailbox-type mbox;
}};
namespace personal {{
  prefix "" {{
    directory "$home";
    delimiter "/";
    mailbox-type mbox;
  }};
}};
tcp-wrappers {{
  enable no;
}};
max-children 100;
pidfile "{root}/run/imap4d.pid";
server 127.0.0.1:{port} {{
}};
"""

SALT_CHARS = string.ascii_letters + string.digits + "./"
IMAPBASE = re.compile(rb"^(X-IMAPbase:[ \t]+)(\d+)", re.MULTILINE | re.IGNORECASE)


def sha512_crypt(password):
    """crypt(3) of ``password`` with a random SHA-512 salt, by the system's libcrypt (the
    library imap4d itself checks it with; Python's own crypt module is deprecated)."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = "$6$" + "".join(secrets.choice(SALT_CHARS) for _i in range(16)) + "$"
    hashed = lib.crypt(password.encode(), salt.encode())
    if not hashed or not hashed.startswith(b"$6$"):
        raise ImapServerError("libcrypt has no SHA-512 crypt")
    return hashed.decode()


class MailutilsServer(ImapTestServer):
    name = "Mailutils"
    personal_prefix = ""
    special_use = False

    def _prepare(self):
        self.pkg = package_tree("mailutils")
        self.root = tempfile.mkdtemp(prefix="mcl-mailutils-")
        for sub in ("passwd", "home", "run", "log"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        self.config = os.path.join(self.root, "mailutils.conf")
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write(MAILUTILS_CONF.format(root=self.root, port=self.port_imap))
        self.env = dict(
            os.environ,
            LD_LIBRARY_PATH=":".join(
                os.path.join(self.pkg, sub) for sub in ("usr/lib/x86_64-linux-gnu", "usr/lib")
            ),
        )
        self.hashes = {}

    def start(self):
        if self.running:
            return self
        if self.root is None:
            self._prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 (the server's stderr, kept open)
        self.process = subprocess.Popen(
            [
                os.path.join(self.pkg, "usr", "sbin", "imap4d"),
                "--no-site-config",
                f"--config-file={self.config}",
                "--daemon",
                "--foreground",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        return self._wait_started()

    def stop(self):
        """SIGTERM to the daemon's process group (the daemon and its session children, all
        started here in a session of their own)."""
        if self.running and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.running = False

    # -- users -------------------------------------------------------------------------------
    def _home(self, login):
        return os.path.join(self.root, "home", login)

    def mbox(self, login, folder="INBOX"):
        """The mbox file of ``folder`` ('INBOX' or 'Sent')."""
        name = "INBOX" if folder.upper() == "INBOX" else folder.removeprefix(self.personal_prefix)
        return os.path.join(self._home(login), *name.split("/"))

    def _write_passwd(self):
        """One passwd-style file per domain, as virtdomain reads them (at each login)."""
        domains = {}
        uid, gid = os.getuid(), os.getgid()
        for login in sorted(self.users):
            local, _at, domain = login.partition("@")
            if not domain or ":" in login or "!" in login:
                raise ImapServerError(f"Mailutils virtdomain logins are local@domain: {login}")
            line = f"{local}:{self.hashes[login]}:{uid}:{gid}::{self._home(login)}:/bin/false\n"
            domains.setdefault(domain, []).append(line)
        for domain, lines in domains.items():
            target = os.path.join(self.root, "passwd", domain)
            with open(target + ".tmp", "w", encoding="utf-8") as handle:
                handle.write("".join(lines))
            os.chmod(target + ".tmp", 0o600)
            os.replace(target + ".tmp", target)

    def add_user(self, login, password="secret"):
        """Create a mail user with an empty INBOX, or change its password."""
        if self.root is None:
            self._prepare()
        home = self._home(login)
        os.makedirs(home, exist_ok=True)
        inbox = self.mbox(login)
        if not os.path.exists(inbox):  # imap4d creates no INBOX at APPEND ([TRYCREATE])
            with open(inbox, "wb"):
                pass
            os.chmod(inbox, 0o600)
        self.hashes[login] = sha512_crypt(password)
        self.users[login] = password
        self._write_passwd()
        return login

    # -- IMAP helpers this server needs ----------------------------------------------------------
    def append(self, login, raw, folder="INBOX", seen=False, flags=(), date=None):
        """APPEND ``raw`` into ``folder`` (dated ``date``, else now); returns the new UID, read
        back (no UIDPLUS here): an mbox appends at its end, the new message is the last one."""
        all_flags = list(flags) + (["\\Seen"] if seen else [])
        flag_str = "(" + " ".join(all_flags) + ")" if all_flags else None
        internal = imaplib.Time2Internaldate(time.time() if date is None else date)
        with self.imap(login) as conn:
            typ, data = conn.append(quote(folder), flag_str, internal, raw)
            if typ != "OK":
                raise ImapServerError(f"APPEND to {folder} on {self.name} failed: {data}")
            conn.select(quote(folder), readonly=True)
            typ, data = conn.uid("SEARCH", "ALL")
            uids = [int(uid) for uid in (data[0] or b"").split()] if typ == "OK" else []
            if not uids:
                raise ImapServerError(f"{self.name}: no message in {folder} after APPEND")
            return max(uids)

    def append_many(self, login, raws, folder="INBOX", seen=False):
        """APPEND many messages over one connection (each dated now); returns the count."""
        with self.imap(login) as conn:
            for raw in raws:
                typ, data = conn.append(
                    quote(folder),
                    "(\\Seen)" if seen else None,
                    imaplib.Time2Internaldate(time.time()),
                    raw,
                )
                if typ != "OK":
                    raise ImapServerError(f"APPEND to {folder} on {self.name} failed: {data}")
        return len(raws)

    # -- server-side operations ----------------------------------------------------------------
    def change_uidvalidity(self, login, folder="INBOX"):
        """A new UIDVALIDITY on ``folder``, written into the ``X-IMAPbase`` header of its first
        message (the UIDs stay), as after a restore of the mbox. Returns the new UIDVALIDITY."""
        path = self.mbox(login, folder)
        with open(path, "rb") as handle:
            content = handle.read()
        match = IMAPBASE.search(content)
        if not match:
            raise ImapServerError(f"Mailutils: no X-IMAPbase in {path} (an empty folder?)")
        new = int(match.group(2)) + 1000
        content = content[: match.start(2)] + str(new).encode() + content[match.end(2) :]
        with open(path + ".tmp", "wb") as handle:
            handle.write(content)
        os.chmod(path + ".tmp", 0o600)
        os.replace(path + ".tmp", path)
        if self.uidvalidity(login, folder) != new:
            raise ImapServerError(f"Mailutils did not take UIDVALIDITY {new} for {folder}")
        return new


get_server = session_server(MailutilsServer)
