"""A private Cyrus IMAP 3.6 (Debian's cyrus-imapd, unpacked, never installed) on 127.0.0.1.

Pure Python: nothing here imports ``odoo``. One instance per test session (``get_server()``).

How it runs (as root, the Debian package's own binaries from the unpacked tree):

- ``master -D -C imapd.conf -M cyrus.conf`` in the foreground; every command in cyrus.conf has
  an absolute path and ``-C imapd.conf``; master runs the services as ``cyrus_user: nobody``
  (the data folders are owned by nobody). The binaries are hard-linked into the temporary
  folder because ``nobody`` cannot reach root's home, where the packages are unpacked.
- Users live in a private sasldb (``saslpasswd2 -f``), logins are addresses
  (``virtdomains: userid``); ``allowplaintext: yes`` lets the tests log in without TLS.
- Debian's layout: ``altnamespace: no`` (personal folders under INBOX), with
  ``unixhierarchysep: yes`` because logins contain dots: folders are ``INBOX/Sent``.
  SPECIAL-USE is announced and set at CREATE (RFC 6154 ``USE``).
- IDLE is pushed by ``idled`` (DAEMON section), which needs ``<configdirectory>/socket``.
- There is no syslog here (no /dev/log): when master stops silently, ``strace -f`` it.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time

from .imap_server import ImapServerError, ImapTestServer, package_tree, session_server

IMAPD_CONF = """\
# Private test instance of mail_crm_link: never a system service.
configdirectory: {root}/conf
proc_path: {root}/run/proc
mboxname_lockpath: {root}/run/lock
defaultpartition: default
partition-default: {root}/spool
sievedir: {root}/sieve
lmtpsocket: {root}/conf/socket/lmtp
notifysocket: {root}/conf/socket/notify
cyrus_user: {user}
altnamespace: no
unixhierarchysep: yes
virtdomains: userid
autocreate_quota: 0
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {root}/sasldb2
sasl_mech_list: PLAIN LOGIN
"""

CYRUS_CONF = """\
START {{
  recover cmd="{bin}/ctl_cyrusdb -C {root}/imapd.conf -r"
}}
SERVICES {{
  imap cmd="{bin}/imapd -C {root}/imapd.conf" listen="127.0.0.1:{port}" prefork=0 maxchild=100
}}
EVENTS {{
}}
DAEMON {{
  idled cmd="{bin}/idled -C {root}/imapd.conf"
}}
"""


class CyrusServer(ImapTestServer):
    name = "Cyrus"
    personal_prefix = "INBOX/"
    special_use = True

    def _prepare(self):
        source = package_tree("cyrus")
        self.root = tempfile.mkdtemp(prefix="mcl-cyrus-")
        os.chmod(self.root, 0o755)  # the services run as nobody and need to traverse it
        self.pkg = os.path.join(self.root, "pkg")
        try:  # hard links: instant, and readable by nobody whatever the home's mode
            subprocess.run(["cp", "-al", source, self.pkg], check=True, capture_output=True)
        except subprocess.CalledProcessError:  # another file system: copy (about 35 MB)
            shutil.copytree(source, self.pkg, symlinks=True)
        self.bin = os.path.join(self.pkg, "usr", "lib", "cyrus", "bin")
        self.env = dict(
            os.environ,
            LD_LIBRARY_PATH=":".join(
                os.path.join(self.pkg, sub)
                for sub in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
            ),
        )
        self.user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        for sub in ("conf/socket", "spool", "sieve", "run/proc", "run/lock", "log"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        values = {"root": self.root, "bin": self.bin, "port": self.port_imap, "user": self.user}
        with open(os.path.join(self.root, "imapd.conf"), "w", encoding="utf-8") as handle:
            handle.write(IMAPD_CONF.format(**values))
        with open(os.path.join(self.root, "cyrus.conf"), "w", encoding="utf-8") as handle:
            handle.write(CYRUS_CONF.format(**values))
        self._own_data()

    def _own_data(self):
        for sub in ("conf", "spool", "sieve", "run", "log", "sasldb2"):
            path = os.path.join(self.root, sub)
            if os.path.exists(path):
                subprocess.run(["chown", "-R", f"{self.user}:", path], check=True)

    def start(self):
        if self.running:
            return self
        if self.root is None:
            self._prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 (the server's stderr, kept open)
        self.process = subprocess.Popen(
            [
                os.path.join(self.bin, "master"),
                "-D",
                "-C",
                os.path.join(self.root, "imapd.conf"),
                "-M",
                os.path.join(self.root, "cyrus.conf"),
                "-p",
                os.path.join(self.root, "run", "master.pid"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        return self._wait_started()

    def _tool(self, *args):
        result = subprocess.run(
            [os.path.join(self.bin, args[0]), "-C", os.path.join(self.root, "imapd.conf")]
            + list(args[1:]),
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if result.returncode:
            raise ImapServerError(f"Cyrus {args[0]} failed: {result.stderr or result.stdout}")
        return result.stdout

    # -- users -------------------------------------------------------------------------------
    def add_user(self, login, password="secret"):
        """Create a mail user (its INBOX appears at its first login), or change its password."""
        args = [os.path.join(self.pkg, "usr", "sbin", "saslpasswd2"), "-p"]
        if login not in self.users:
            args.append("-c")
        result = subprocess.run(
            [*args, "-f", os.path.join(self.root, "sasldb2"), login],
            input=password,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if result.returncode:
            raise ImapServerError(f"saslpasswd2 {login}: {result.stderr.strip()}")
        shutil.chown(os.path.join(self.root, "sasldb2"), self.user)
        self.users[login] = password
        return login

    # -- server-side operations ----------------------------------------------------------------
    def _mailbox_name(self, login, folder):
        """The administrative name of a user's folder: user/<local>[/sub]@<domain>."""
        local, _at, domain = login.partition("@")
        name = f"user/{local}"
        if folder.upper() != "INBOX":
            name += "/" + folder.removeprefix(self.personal_prefix)
        return f"{name}@{domain}" if domain else name

    def change_uidvalidity(self, login, folder="INBOX"):
        """A new UIDVALIDITY on ``folder``, as when a server loses a folder's index: the index is
        deleted and ``reconstruct`` rebuilds it from the message files (UIDs stay, flags go).
        Returns the new UIDVALIDITY."""
        old = self.uidvalidity(login, folder)
        name = self._mailbox_name(login, folder)
        for _attempt in range(5):
            path = self._tool("mbpath", name).strip()
            os.remove(os.path.join(path, "cyrus.index"))
            self._tool("reconstruct", name)
            new = self.uidvalidity(login, folder)
            if new != old:
                return new
            time.sleep(1.1)  # Cyrus takes a new UIDVALIDITY from the clock
        raise ImapServerError(f"Cyrus kept UIDVALIDITY {old} of {name}")


get_server = session_server(CyrusServer)
