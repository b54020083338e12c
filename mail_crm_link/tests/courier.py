"""A private Courier-IMAP 5.0 (Debian's courier-imap, unpacked, never installed) on 127.0.0.1.

Pure Python: nothing here imports ``odoo``. One instance per test session (``get_server()``).

Courier's paths are compiled in (/etc/courier, /usr/lib/courier..., /run/courier), so it runs
(as root) in private mount and PID namespaces (``unshare``): the unpacked packages are laid
over /usr, a private folder is mounted on /etc/courier (authdaemonrc, userdb), /run is a
private tmpfs, and nothing of it is seen outside. The namespace's first process is
``couriertcpd``; stopping it ends every process of the namespace (authdaemond, imapd, gamin).

- Users: authdaemond with ``authuserdb``; ``userdb.dat``/``userdbshadow.dat`` are written with
  Courier's ``makedatprog`` (as ``makeuserdb`` does), mail owned by nobody.
- Layout: one maildir per user, folders are ``INBOX.Sent`` with a ``.`` separator, and there is
  no SPECIAL-USE: Sent and Spam are found by their names.
- IDLE: Debian's default (``IMAP_ENHANCEDIDLE=0``) polls every ``IMAP_IDLE_TIMEOUT`` (60 s);
  here enhanced IDLE is on, with gamin (File Alteration Monitor), as a server that offers push.
- UIDs live in ``courierimapuiddb`` in each maildir folder; a read-only session does not save
  it, so mail delivered straight into the maildir gets its UIDs saved by a read-write SELECT.
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import tempfile
import time
from base64 import b64encode

from .imap_server import ImapServerError, ImapTestServer, package_tree, quote, session_server

START_SCRIPT = """\
set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir={pkg}/usr:/usr /usr
mount -t overlay overlay -o lowerdir={root}/etc:/etc /etc
mount --bind {root}/courier /etc/courier
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/courier/authdaemon
/usr/lib/courier/courier-authlib/authdaemond &
cd /
exec env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin \\
  IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT \\
THREAD=REFERENCES SORT QUOTA IDLE" \\
  IMAP_KEYWORDS=1 IMAP_ACL=1 IMAP_PROXY=0 IMAP_IDLE_TIMEOUT=60 IMAP_MAILBOX_SANITY_CHECK=1 \\
  IMAP_UMASK=022 IMAP_ULIMITD=131072 IMAP_USELOCKS=1 IMAP_ENHANCEDIDLE=1 \\
  IMAP_TRASHFOLDERNAME=Trash IMAP_EMPTYTRASH=Trash:7 IMAP_MOVE_EXPUNGE_TO_TRASH=0 \\
  IMAP_CHECK_ALL_FOLDERS=0 IMAP_OBSOLETE_CLIENT=0 IMAP_DISABLETHREADSORT=0 \\
  HEADERFROM=X-IMAP-Sender MAILDIRPATH=Maildir \\
  /usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=100 -maxperip=100 \\
    -nodnslookup -noidentlookup {port} \\
    /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir
"""

AUTHDAEMONRC = """\
authmodulelist="authuserdb"
daemons=3
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=0
DEFAULTOPTIONS=""
LOGGEROPTS=""
"""

NOBODY = 65534  # Debian's nobody/nogroup
SUBDIRS = ("cur", "new", "tmp")  # of a maildir folder


class CourierServer(ImapTestServer):
    name = "Courier"
    personal_prefix = "INBOX."
    special_use = False

    def _prepare(self):
        if os.geteuid() != 0:
            raise ImapServerError("The Courier test server runs as root (mount namespaces).")
        self.pkg = package_tree("courier")
        self.root = tempfile.mkdtemp(prefix="mcl-courier-")
        os.chmod(self.root, 0o755)
        for sub in ("etc/courier", "courier", "home", "log"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        with open(os.path.join(self.root, "courier", "authdaemonrc"), "w") as handle:
            handle.write(AUTHDAEMONRC)
        with open(os.path.join(self.root, "start.sh"), "w", encoding="utf-8") as handle:
            handle.write(START_SCRIPT.format(pkg=self.pkg, root=self.root, port=self.port_imap))
        self._write_userdb()

    def start(self):
        if self.running:
            return self
        if self.root is None:
            self._prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 (the server's stderr, kept open)
        self.process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child=SIGKILL",  # unshare ends: the whole namespace ends
                "/bin/sh",
                os.path.join(self.root, "start.sh"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        return self._wait_started()

    def stop(self):
        """SIGKILL to the namespace's first process (``unshare``'s child, which reaps it): the
        kernel then ends every other process of the namespace."""
        if self.running and self.process.poll() is None:
            pid = self.process.pid
            children = f"/proc/{pid}/task/{pid}/children"
            with contextlib.suppress(OSError), open(children, encoding="ascii") as handle:
                for child in handle.read().split():
                    os.kill(int(child), signal.SIGKILL)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()  # --kill-child: its child goes too
                self.process.wait(5)
        self.running = False

    # -- users -------------------------------------------------------------------------------
    def _home(self, login):
        return os.path.join(self.root, "home", login)

    def maildir(self, login, folder="INBOX"):
        """The maildir folder of ``folder`` ('INBOX' or 'INBOX.Sent')."""
        path = os.path.join(self._home(login), "Maildir")
        if folder.upper() != "INBOX":
            path = os.path.join(path, "." + folder.removeprefix(self.personal_prefix))
        return path

    def _write_userdb(self):
        """userdb.dat (account) and userdbshadow.dat (password), as ``makeuserdb`` writes them;
        authdaemond reads them again when they change."""
        accounts, secrets = [], []
        for login, password in sorted(self.users.items()):
            home = self._home(login)
            accounts.append(
                f"{login}\tuid={NOBODY}|gid={NOBODY}|home={home}|mail={home}/Maildir|_=\n"
            )
            digest = b64encode(hashlib.sha1(password.encode()).digest()).decode()
            secrets.append(f"{login}\tsystempw={{SHA}}{digest}\n")
        makedat = os.path.join(self.pkg, "usr", "lib", "courier", "courier-authlib", "makedatprog")
        env = dict(
            os.environ,
            LD_LIBRARY_PATH=os.path.join(self.pkg, "usr", "lib")
            + ":"
            + os.path.join(self.pkg, "usr", "lib", "x86_64-linux-gnu"),
        )
        for name, lines in (("userdb", accounts), ("userdbshadow", secrets)):
            target = os.path.join(self.root, "courier", name + ".dat")
            result = subprocess.run(
                [makedat, "-", target + ".tmp", target],
                input=("".join(lines) + ".\n").encode(),
                capture_output=True,
                env=env,
                check=False,
            )
            if result.returncode:
                raise ImapServerError(f"makedatprog {name}: {result.stderr.decode().strip()}")
            os.chmod(target, 0o600)

    def add_user(self, login, password="secret"):
        """Create a mail user with an empty maildir, or change its password."""
        maildir = self.maildir(login)
        for path in (self._home(login), maildir, *(os.path.join(maildir, s) for s in SUBDIRS)):
            os.makedirs(path, exist_ok=True)
            os.chown(path, NOBODY, NOBODY)
        self.users[login] = password
        self._write_userdb()
        return login

    # -- server-side operations ----------------------------------------------------------------
    def deliver(self, login, raw, folder="INBOX"):
        """Deliver ``raw`` as the mail system does (maildrop, Postfix's virtual): a file written
        into the maildir's tmp/ and renamed into new/; the IMAP server learns of it when a
        session opens the folder."""
        maildir = self.maildir(login, folder)
        name = f"{time.time_ns()}.P{os.getpid()}.mcl-test"
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as handle:
            handle.write(raw.replace(b"\r\n", b"\n"))  # a maildir keeps Unix line ends
        os.chown(tmp, NOBODY, NOBODY)
        os.rename(tmp, os.path.join(maildir, "new", name))

    def change_uidvalidity(self, login, folder="INBOX"):
        """A new UIDVALIDITY on ``folder``, written into its ``courierimapuiddb`` (the UIDs stay),
        as after a restore of the maildir. Returns the new UIDVALIDITY."""
        with self.imap(login) as conn:  # a read-write SELECT saves the UID database
            conn.select(quote(folder))
        path = os.path.join(self.maildir(login, folder), "courierimapuiddb")
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        version, validity, next_uid = lines[0].split()
        new = int(validity) + 1000
        lines[0] = f"{version} {new} {next_uid}"
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
        os.chown(path + ".tmp", NOBODY, NOBODY)
        os.replace(path + ".tmp", path)
        with contextlib.suppress(ValueError):
            if self.uidvalidity(login, folder) == new:
                return new
        raise ImapServerError(f"Courier did not take UIDVALIDITY {new} for {folder}")


get_server = session_server(CourierServer)
