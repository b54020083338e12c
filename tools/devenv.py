#!/usr/bin/env python3
"""Developer environment of mail_crm_link: Odoo config, databases, the test run and the demo.

    python3 tools/devenv.py test [pytest args]     # fresh test database, then the whole suite
    python3 tools/devenv.py demo                   # Dovecot + demo database + one sync + serve
    python3 tools/devenv.py check-requirements FILE

Run through `make test` / `make demo`, which call tools/setup.sh first. The Odoo series is the
one this Python imports (18: python3, 19: its virtual environment, see ODOO_SERIES in the
Makefile); the databases, config files and data folder of 19 carry a "19" so that both series
can live side by side: mcl_test / mcl_test19, .cache/test.conf / .cache/test-19.conf
(MCL_TEST_DB / MCL_TEST_DB19 choose other database names).
"""

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")
ADDON = "mail_crm_link"


def odoo_series():
    """The major version of the Odoo this Python imports (ODOO_SERIES when it imports none)."""
    try:
        import odoo.release

        return int(odoo.release.version_info[0])
    except ImportError:
        return int(float(os.environ.get("ODOO_SERIES") or 18))


SERIES = odoo_series()
SERIES_TAG = "" if SERIES == 18 else str(SERIES)  # 18 keeps the names it always had
# MCL_TEST_DB19 names the 19 database when MCL_TEST_DB names the 18 one (one CI run, both)
TEST_DB = (
    os.environ.get(f"MCL_TEST_DB{SERIES_TAG}")
    or os.environ.get("MCL_TEST_DB")
    or f"mcl_test{SERIES_TAG}"
)
DEMO_DB = (
    os.environ.get(f"MCL_DEMO_DB{SERIES_TAG}")
    or os.environ.get("MCL_DEMO_DB")
    or f"mcl_demo{SERIES_TAG}"
)
DATA_DIR = os.path.join(CACHE, "filestore" + (SERIES_TAG and f"-{SERIES_TAG}"))
# installed beside it in the test database: Odoo's OAuth mailboxes, which the XOAUTH2 tests
# use (google_gmail is auto-installed with mail; microsoft_outlook is not)
TEST_ALSO = "microsoft_outlook"
DEMO_LOGIN = "sales@mycompany.example"
DEMO_PASSWORD = "demo-mailbox"
# a second demo mailbox whose policy creates nothing for an unknown address: its mail from
# unknown senders waits in the triage queue
DEMO_INFO_LOGIN = "info@mycompany.example"
DEMO_INFO_PASSWORD = "demo-info"
DEMO_PORTS = {"imap": 10143, "imaps": 10993, "pop3": 10110, "pop3s": 10995}
DEMO_SMTP_PORT = 10025


def log(message):
    print(f"\033[1m[devenv]\033[0m {message}", flush=True)


# -- requirements ------------------------------------------------------------------------------
def check_requirements(path):
    """0 when every requirement of ``path`` is installed at an accepted version."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a fresh virtual environment: nothing of the list is there yet
        log("missing: packaging")
        return 1

    missing = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            req = Requirement(line)
            try:
                version = importlib.metadata.version(req.name)
            except importlib.metadata.PackageNotFoundError:
                missing.append(req.name)
                continue
            if req.specifier and not req.specifier.contains(version, prereleases=True):
                missing.append(f"{req.name} ({version} installed)")
    if missing:
        log("missing: " + ", ".join(missing))
    return 1 if missing else 0


# -- Odoo configuration ------------------------------------------------------------------------
def odoo_addons_paths():
    import odoo.release  # odoo itself is a namespace package (no __file__) since 19

    source_root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.release.__file__)))
    paths = [ROOT]
    core = os.path.join(source_root, "addons")
    if os.path.isfile(os.path.join(core, "crm", "__manifest__.py")):
        paths.append(core)  # a source tree; a packaged Odoo keeps its addons in odoo/addons
    return paths


def write_config(name, db, http_port=8069, extra=None):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, name + (SERIES_TAG and f"-{SERIES_TAG}") + ".conf")
    values = {
        "addons_path": ",".join(odoo_addons_paths()),
        "data_dir": DATA_DIR,
        "db_name": db,
        "dbfilter": f"^{db}$",
        "http_interface": "127.0.0.1",
        "http_port": http_port,
        "list_db": "False",
        "without_demo": "all" if SERIES == 18 else "True",  # 19 reads a boolean
        "max_cron_threads": 1,
    }
    for env, key in (
        ("PGHOST", "db_host"),
        ("PGPORT", "db_port"),
        ("PGUSER", "db_user"),
        ("PGPASSWORD", "db_password"),
    ):
        if os.environ.get(env):
            values[key] = os.environ[env]
    values.update(extra or {})
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[options]\n")
        for key, value in values.items():
            handle.write(f"{key} = {value}\n")
    return path


def odoo_bin(config, *args, check=True):
    cmd = [sys.executable, "-m", "odoo", "-c", config, *args]
    return subprocess.run(cmd, check=check)


def psql(sql, db="postgres"):
    return subprocess.run(
        ["psql", "-d", db, "-Atc", sql], capture_output=True, text=True, check=True
    ).stdout.strip()


def db_has_module(db):
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") != "1":
        return False
    try:
        state = psql(f"SELECT state FROM ir_module_module WHERE name = '{ADDON}'", db=db)
    except subprocess.CalledProcessError:
        return False
    return state == "installed"


def create_db(config, db, also=""):
    log(f"creating database {db} with {ADDON} installed")
    subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)
    shutil.rmtree(os.path.join(DATA_DIR, "filestore", db), ignore_errors=True)
    start = time.monotonic()
    modules = ",".join(filter(None, [ADDON, also]))
    odoo_bin(config, "-d", db, "-i", modules, "--stop-after-init", "--log-level=warn")
    log(f"database {db} ready in {time.monotonic() - start:.0f}s")


def copy_filestore(source_db, target_db):
    """The filestore of a database copy: hard links (Odoo never rewrites a stored file)."""
    root = os.path.join(DATA_DIR, "filestore")
    target = os.path.join(root, target_db)
    shutil.rmtree(target, ignore_errors=True)
    if os.path.isdir(os.path.join(root, source_db)):
        shutil.copytree(os.path.join(root, source_db), target, copy_function=os.link)


# -- commands ----------------------------------------------------------------------------------
def cmd_test(pytest_args):
    # the tours' HTTP server: a free port unless chosen, so that two test runs can share a host
    # the suite runs with mailbox secrets encrypted (a fresh key per run), as production should
    from cryptography.fernet import Fernet

    # one config file per test database: two runs side by side (MCL_TEST_DB) never share a
    # key, which the real-commit workers read from the file
    config = write_config(
        "test" if TEST_DB == f"mcl_test{SERIES_TAG}" else f"test-{TEST_DB}",
        TEST_DB,
        http_port=int(os.environ.get("MCL_HTTP_PORT") or _free_port()),
        extra={"mail_crm_link_secret_key": Fernet.generate_key().decode()},
    )
    create_db(config, TEST_DB, also=TEST_ALSO)
    # the template of the real-commit tests (tests/realcommit): a copy made now, while nothing
    # is connected to the test database; each test copies it again and commits
    # there for real, so nothing they commit is ever seen by the other tests
    real_template = f"{TEST_DB}_real"
    leftovers = psql(  # copies of an interrupted run (tests drop their own)
        "SELECT datname FROM pg_database"
        f" WHERE datname = '{real_template}' OR starts_with(datname, '{real_template}_')"
    ).split()
    for db in leftovers:
        subprocess.run(["dropdb", "--if-exists", "--force", db], check=True)
    subprocess.run(["createdb", "-T", TEST_DB, real_template], check=True)
    copy_filestore(TEST_DB, real_template)
    os.environ["MCL_REAL_TEMPLATE"] = real_template
    args = [
        sys.executable,
        "-m",
        "pytest",
        f"--odoo-config={config}",
        f"--odoo-database={TEST_DB}",
        "--odoo-http",
        "--odoo-log-level=warn",
        "-p",
        "no:cacheprovider",
        os.path.join(ROOT, ADDON, "tests"),
        *pytest_args,
    ]
    log(" ".join(args[1:]))
    returncode = subprocess.run(args, cwd=ROOT, check=False).returncode
    corpus_missing = _corpus_missing_reason()
    if corpus_missing:  # after pytest's closing line, where it is read
        log(f"tests skipped: {corpus_missing}")
    return returncode


def _corpus_missing_reason():
    sys.path.insert(0, os.path.join(ROOT, ADDON, "tests"))
    import realmail_corpus  # pure module of the test bench

    return realmail_corpus.missing_reason()


def _demo_fill(dovecot, login, mails, folder="INBOX"):
    """Append to ``folder`` of ``login`` each (raw, seen) whose Message-ID it does not hold;
    return how many were appended."""
    from email.parser import BytesHeaderParser

    parser = BytesHeaderParser()
    with dovecot.imap(login) as conn:
        held = set()
        typ, count = conn.select(f'"{folder}"', readonly=True)
        if typ == "OK" and int(count[0] or 0):
            _typ, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for item in data or ():
                if isinstance(item, tuple):
                    held.add((parser.parsebytes(item[1])["Message-ID"] or "").strip())
    added = 0
    for raw, seen in mails:
        if (parser.parsebytes(raw)["Message-ID"] or "").strip() not in held:
            dovecot.append(login, raw, folder=folder, seen=seen)
            added += 1
    return added


def cmd_demo(serve=True):
    sys.path.insert(0, os.path.join(ROOT, ADDON, "tests"))
    from corpus import Corpus, demo_start  # pure modules of the test bench, shared with the demo
    from dovecot import DovecotServer, free_port
    from smtp_sink import SmtpSink

    # Dovecot: state kept in .cache/demo-dovecot(-19) so a second run reuses the mailbox
    root = os.path.join(CACHE, "demo-dovecot" + (SERIES_TAG and f"-{SERIES_TAG}"))
    os.makedirs(root, exist_ok=True)
    ports = {}
    for key, port in DEMO_PORTS.items():
        ports[key] = port if _port_free(port) else free_port()
    stale = os.path.join(root, "run", "master.pid")
    if os.path.exists(stale):  # a previous demo still running: stop it, we own that folder
        subprocess.run(
            ["doveadm", "-c", os.path.join(root, "dovecot.conf"), "stop"],
            capture_output=True,
            check=False,
        )
        time.sleep(0.5)
        ports = {key: port if _port_free(port) else free_port() for key, port in DEMO_PORTS.items()}
    dovecot = DovecotServer(root=root, ports=ports).start()
    for login, password in ((DEMO_LOGIN, DEMO_PASSWORD), (DEMO_INFO_LOGIN, DEMO_INFO_PASSWORD)):
        if login not in dovecot.users:
            dovecot.add_user(login, password)
    # dated a month ago whenever the demo is made (a fixed date fell out of "Why not?"'s
    # six months); the bytes are the tests' otherwise, the same Message-IDs included
    corpus = Corpus(domain="client.example", our_domain="mycompany.example", start=demo_start())
    mails = corpus.demo_mails(DEMO_LOGIN)
    sent = corpus.message(
        sender=("Sales", DEMO_LOGIN),
        to=("Giulia Rossi", "giulia.rossi@client.example"),
        subject="Preventivo aggiornato",
        lang="it",
        charset="utf-8",
    )
    mails += corpus.demo_more_mails(DEMO_LOGIN)  # after the Sent mail: same bytes as before
    triage_mails = corpus.demo_triage_mails(DEMO_INFO_LOGIN)
    # each demo mail the mailbox lacks (by Message-ID): a fresh demo gets them all, a demo
    # made before a mail was added to the list gets that mail at its next start
    added = _demo_fill(
        dovecot, DEMO_LOGIN, [(raw, index % 3 == 0) for index, raw in enumerate(mails)]
    )
    added += _demo_fill(dovecot, DEMO_LOGIN, [(sent, True)], folder="Sent")
    if added:
        log(f"demo mailbox {DEMO_LOGIN}: {added} demo mails added")
    added = _demo_fill(dovecot, DEMO_INFO_LOGIN, [(raw, False) for raw in triage_mails])
    if added:
        log(f"demo mailbox {DEMO_INFO_LOGIN}: {added} demo mails added")
    log(f"Dovecot on 127.0.0.1: IMAP {dovecot.port_imap}, POP3 {dovecot.port_pop3}")

    # A small mail server for what Odoo sends (replies from the CRM, notifications): every
    # mail it accepts is delivered into the demo mailbox's Inbox, whoever it is addressed to,
    # so a reply written on a card can be seen arriving there.
    def deliver(mail):
        dovecot.append(DEMO_LOGIN, mail.raw)

    smtp_port = DEMO_SMTP_PORT if _port_free(DEMO_SMTP_PORT) else free_port()
    smtp = SmtpSink(port=smtp_port, deliver=deliver).start()
    log(f"SMTP on 127.0.0.1:{smtp.port}, delivering into the Inbox of {DEMO_LOGIN}")

    # MCL_DEMO_PORT: another port than 8069 (one already taken, a second demo beside)
    port = int(os.environ.get("MCL_DEMO_PORT") or 8069)
    config = write_config("demo", DEMO_DB, http_port=port)
    if db_has_module(DEMO_DB):
        log(f"reusing database {DEMO_DB}")
        odoo_bin(config, "-d", DEMO_DB, "-u", ADDON, "--stop-after-init", "--log-level=warn")
    else:
        create_db(config, DEMO_DB)
    script = os.path.join(ROOT, "tools", "demo_setup.py")
    with open(script, encoding="utf-8") as handle:
        code = (
            handle.read()
            .replace("__IMAP_PORT__", str(dovecot.port_imap))
            .replace("__SMTP_PORT__", str(smtp.port))
            .replace("__LOGIN__", DEMO_LOGIN)
            .replace("__PASSWORD__", DEMO_PASSWORD)
            .replace("__INFO_LOGIN__", DEMO_INFO_LOGIN)
            .replace("__INFO_PASSWORD__", DEMO_INFO_PASSWORD)
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "shell",
            "-c",
            config,
            "-d",
            DEMO_DB,
            "--log-level=warn",
            "--no-http",
        ],
        input=code,
        text=True,
        check=True,
    )
    if not serve:
        smtp.stop()
        dovecot.stop()
        return 0
    print(
        f"\n  mail_crm_link demo: http://127.0.0.1:{port}\n"
        "  login: admin   password: admin   (a salesman: salesman / salesman)\n"
        "  CRM > Configuration > Mailboxes shows the demo mailbox\n"
        f"  (IMAP 127.0.0.1:{dovecot.port_imap}, user {DEMO_LOGIN}, password {DEMO_PASSWORD})\n"
        f"  Mail sent from Odoo goes to SMTP 127.0.0.1:{smtp.port}, which delivers it into\n"
        "  that mailbox's Inbox: a reply from a card arrives there (and in its Sent folder).\n"
        "  Ctrl-C stops Odoo, the demo Dovecot and the demo SMTP server.\n",
        flush=True,
    )
    try:
        odoo_bin(config, "-d", DEMO_DB, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        smtp.stop()
        dovecot.stop()
    return 0


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port):
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Dovecot binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main():
    if sys.argv[1:2] == ["test"]:  # everything after "test" is pytest's, "-k x" included
        return cmd_test(sys.argv[2:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("test").add_argument("pytest_args", nargs=argparse.REMAINDER)
    demo = sub.add_parser("demo")
    demo.add_argument("--no-serve", action="store_true", help="prepare, sync and exit")
    sub.add_parser("check-requirements").add_argument("file")
    if sys.argv[1:2] == ["test"]:  # everything after it is pytest's (-k, -x …)
        return cmd_test(sys.argv[2:])
    args = parser.parse_args()
    if args.command == "check-requirements":
        return check_requirements(args.file)
    return cmd_demo(serve=not args.no_serve)


if __name__ == "__main__":
    sys.exit(main())
