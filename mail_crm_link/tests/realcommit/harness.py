"""Tests with real commits: a database copy of their own, worker OS processes, fresh reads.

The rest of the suite runs inside one rolled-back transaction, with the sync's commits turned
into savepoints (``common.MailCrmLinkCommon._use_savepoints_for_commits``). That cannot show
what REPEATABLE READ snapshots, aborted transactions, kill -9 or two workers at once do. Here:

- each test gets its own database, copied from a template that ``tools/devenv.py test``
  makes from the freshly installed test database before pytest connects to it
  (``$MCL_REAL_TEMPLATE``, default ``<test db>_real``). The workers commit there for real, so
  nothing they commit is ever seen by another test; the copy is dropped after the test;
- the product runs in worker processes (``worker.py``): plain Python with the run's Odoo
  config, ``Registry(db)``, and the public entry points (``_mcl_sync``, the cron);
- the test process only drives Dovecot and reads the database through its own autocommit
  connection (every query a fresh snapshot). It never holds a lock the workers could wait on.

    class TestSomething(RealCommitCase):
        def test_x(self):
            login = self.make_mail_user()
            with self.workers(2) as pool:
                (mailbox,) = self.create_mailboxes(pool, [self.mailbox_values(login)])
                results = pool.run({name: {"op": "sync", "mailbox_id": mailbox}
                                    for name in pool.names})
            self.assertEqual(self.stored_count(mailbox), self.dovecot.count(login))
"""

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import psycopg2
from psycopg2 import sql

import odoo
from odoo.tests import BaseCase, tagged

from ..dovecot import get_server

_logger = logging.getLogger(__name__)

OUR_DOMAIN = "mycompany.example"
CLIENT_DOMAIN = "client.example"
TEMPLATE_ENV = "MCL_REAL_TEMPLATE"
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# pg_try_advisory_lock(namespace, mailbox id) of the sync (models/fetchmail_server.py)
MAILBOX_LOCK_NAMESPACE = 0x4D434C


class RealDatabase:
    """A database of its own, copied from the template; read through autocommit queries."""

    def __init__(self, name):
        self.name = name
        self._conn = None

    @staticmethod
    def _connect(dbname):
        _db, info = odoo.sql_db.connection_info_for(dbname)
        conn = psycopg2.connect(**info)
        conn.autocommit = True
        return conn

    @classmethod
    def template(cls):
        test_db = odoo.tools.config["db_name"]
        name = os.environ.get(TEMPLATE_ENV) or f"{test_db}_real"
        with contextlib.closing(cls._connect("postgres")) as conn, conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if not cr.fetchone():
                raise AssertionError(
                    f"The real-commit tests need the template database {name!r}, a copy of the "
                    f"freshly installed test database. `make test` (tools/devenv.py test) makes "
                    f"it; by hand: createdb -T {test_db} {name} while nothing is connected to "
                    f"{test_db}, or set ${TEMPLATE_ENV}."
                )
        return name

    @classmethod
    def copy_of_template(cls, label):
        template = cls.template()
        name = f"{template}_{label}_{os.getpid()}"[:63]
        with contextlib.closing(cls._connect("postgres")) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cr.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        source, target = odoo.tools.config.filestore(template), odoo.tools.config.filestore(name)
        shutil.rmtree(target, ignore_errors=True)
        if os.path.isdir(source):  # hard links: Odoo never rewrites a stored file
            shutil.copytree(source, target, copy_function=os.link)
        return cls(name)

    def drop(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        with contextlib.closing(self._connect("postgres")) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )
        shutil.rmtree(odoo.tools.config.filestore(self.name), ignore_errors=True)

    # -- reading (each statement its own snapshot: what is committed now) -------------------
    def query(self, sql, params=()):
        if self._conn is None or self._conn.closed:
            self._conn = self._connect(self.name)
        with self._conn.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall() if cr.description else []

    def value(self, sql, params=()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    @contextlib.contextmanager
    def transaction(self):
        """A cursor of another client (a user saving a form, say) in one transaction,
        committed at the end: the one place where the test itself holds row locks."""
        conn = self._connect(self.name)
        conn.autocommit = False
        try:
            with conn.cursor() as cr:
                yield cr
            conn.commit()
        finally:
            conn.close()

    def wait_for_lock_waiter(self, timeout):
        """True once a session of this database waits for a lock held by another."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.value(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND wait_event_type = 'Lock'",
                [self.name],
            ):
                return True
            time.sleep(0.01)
        return False

    def try_mailbox_lock(self):
        """A fresh connection: can it take the sync lock of each mailbox? {id: bool}"""
        with contextlib.closing(self._connect(self.name)) as conn, conn.cursor() as cr:
            cr.execute("SELECT id FROM fetchmail_server ORDER BY id")
            free = {}
            for (mailbox_id,) in cr.fetchall():
                cr.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", [MAILBOX_LOCK_NAMESPACE, mailbox_id]
                )
                free[mailbox_id] = cr.fetchone()[0]
            cr.execute("SELECT pg_advisory_unlock_all()")
            return free


class WorkerError(AssertionError):
    """A worker process died or did not answer: the test fails with its log."""


class WorkerPool:
    """N worker processes on one database, driven round by round (see ``worker.py``).

    ``run({name: step})`` starts the round in every named worker at the same instant (the
    others idle) and returns ``{name: result}``; ``begin``/``wait`` split it so the test can
    act while the workers run (kill one, append mail). A step that raised returns
    ``{"exception": ..., "traceback": ...}``.
    """

    def __init__(self, db, count, prefix="w"):
        self.db = db
        self.names = [f"{prefix}{i}" for i in range(count)]
        self.folder = tempfile.mkdtemp(prefix="mcl-realcommit-")
        self.procs = {}
        self.alive = set()
        self.round = 0
        self._running = {}

    def start(self, timeout=180):
        config = odoo.tools.config.rcfile
        for name in self.names:
            log = open(os.path.join(self.folder, f"{name}.log"), "wb")  # noqa: SIM115
            self.procs[name] = subprocess.Popen(
                [sys.executable, WORKER, config, self.db.name, self.folder, name],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            self.alive.add(name)
        self._wait_files("ready", self.round, self.names, timeout)
        return self

    def log_tail(self, name, chars=4000):
        with (
            contextlib.suppress(OSError),
            open(
                os.path.join(self.folder, f"{name}.log"), encoding="utf-8", errors="replace"
            ) as handle,
        ):
            return handle.read()[-chars:]
        return ""

    def _path(self, name, kind, round_no):
        return os.path.join(self.folder, f"{name}.{kind}.{round_no}")

    def _wait_files(self, kind, round_no, names, timeout):
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending:
            for name in list(pending):
                if os.path.exists(self._path(name, kind, round_no)):
                    pending.discard(name)
                elif self.procs[name].poll() is not None:
                    raise WorkerError(
                        f"worker {name} exited with {self.procs[name].returncode}:\n"
                        + self.log_tail(name)
                    )
            if pending and time.monotonic() > deadline:
                raise WorkerError(
                    f"workers {sorted(pending)} gave no {kind} file in {timeout}s:\n"
                    + "\n".join(self.log_tail(n) for n in pending)
                )
            if pending:
                time.sleep(0.002)

    def begin(self, steps):
        """Start one round: every living worker is waiting; all get the go at once."""
        if self._running:
            raise WorkerError("the previous round was not waited for")
        unknown = set(steps) - self.alive
        if unknown:
            raise WorkerError(f"no living worker named {sorted(unknown)}")
        self._wait_files("ready", self.round, self.alive, 180)
        path = os.path.join(self.folder, f"go.{self.round}")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(steps, handle)
        os.replace(path + ".tmp", path)  # one atomic rename: the starting gun
        self._running = dict(steps)
        return self.round

    def wait(self, timeout=300):
        names = [n for n in self._running if n in self.alive]
        self._wait_files("done", self.round, names, timeout)
        results = {}
        for name in names:
            with open(self._path(name, "done", self.round), encoding="utf-8") as handle:
                results[name] = json.load(handle)
        self.round += 1
        self._running = {}
        return results

    def run(self, steps, timeout=300):
        self.begin(steps)
        return self.wait(timeout)

    def run_one(self, name, step, timeout=300):
        """One step in one worker; fails the test if it raised."""
        result = self.run({name: step}, timeout)[name]
        if "exception" in result:
            raise WorkerError(f"worker {name}: {result['traceback']}")
        return result

    def kill(self, name):
        """kill -9: no cleanup in the process; PostgreSQL ends its sessions. (``wait()``
        still closes the round.)"""
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()
        self.alive.discard(name)

    def stop(self):
        if self.alive:
            with contextlib.suppress(WorkerError):
                if self._running:
                    self.wait(timeout=60)
                self.begin({name: {"op": "stop"} for name in self.alive})
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if os.environ.get("MCL_REALCOMMIT_KEEP"):  # the workers' logs, to debug a test
            _logger.warning("worker files kept in %s", self.folder)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


@tagged("post_install", "-at_install", "mcl_realcommit")
class RealCommitCase(BaseCase):
    """Base of the real-commit tests: a database copy and workers of its own per test (a
    cron run, say, syncs every mailbox of its database: no other test's may be there)."""

    _mail_user_seq = 0

    def setUp(self):
        super().setUp()
        self.real_db = RealDatabase.copy_of_template("rc")
        self.addCleanup(self.real_db.drop)

    @property
    def dovecot(self):
        return get_server()

    @contextlib.contextmanager
    def workers(self, count):
        pool = WorkerPool(self.real_db, count)
        try:
            yield pool.start()
        finally:
            pool.stop()

    def make_mail_user(self, label="box"):
        type(self)._mail_user_seq += 1
        login = f"rc.{self._testMethodName}.{label}.{self._mail_user_seq}@{OUR_DOMAIN}"
        return self.dovecot.add_user(login, "secret")

    def mailbox_values(self, login, **values):
        """A mailbox in automatic mode on the test Dovecot (as ``common.make_mailbox``)."""
        server = self.dovecot
        vals = {
            "name": f"Mailbox {login}",
            "server_type": "imap",
            "server": server.host,
            "port": server.port_imap,
            "connection_security": "none",
            "tls_verify": False,
            "internal_domains": OUR_DOMAIN,
            "connect_timeout": 10,
            "state": "done",
            "user": login,
            "password": server.users[login],
            "crm_link_mode": "auto",
            "import_window": "all",
        }
        vals.update(values)
        return vals

    def create_records(self, pool, model, values_list):
        """Records created and committed by a worker: their ids."""
        step = {"op": "create", "model": model, "values": values_list}
        return pool.run_one(pool.names[0], step)["ids"]

    def create_mailboxes(self, pool, values_list):
        return self.create_records(pool, "fetchmail.server", values_list)

    # -- what is committed --------------------------------------------------------------------
    def stored_count(self, mailbox_id):
        return self.real_db.value(
            "SELECT count(*) FROM mailbox_message WHERE mailbox_id = %s", [mailbox_id]
        )

    def duplicate_message_ids(self, mailbox_id):
        """Message-IDs stored more than once in the mailbox."""
        return self.real_db.query(
            """SELECT message_id, count(*) FROM mailbox_message
                WHERE mailbox_id = %s AND message_id IS NOT NULL
             GROUP BY message_id HAVING count(*) > 1""",
            [mailbox_id],
        )

    def duplicate_chatter_entries(self, mailbox_id):
        """Chatter entries shown twice on one record for one mail of the mailbox: by the
        stored mail they show, and by the mail's Message-ID."""
        by_mail = self.real_db.query(
            """SELECT mm.model, mm.res_id, mm.mcl_message_id, count(*)
                 FROM mail_message mm JOIN mailbox_message m ON m.id = mm.mcl_message_id
                WHERE m.mailbox_id = %s
             GROUP BY mm.model, mm.res_id, mm.mcl_message_id HAVING count(*) > 1""",
            [mailbox_id],
        )
        by_message_id = self.real_db.query(
            """SELECT mm.model, mm.res_id, mm.message_id, count(*)
                 FROM mail_message mm JOIN mailbox_message m ON m.id = mm.mcl_message_id
                WHERE m.mailbox_id = %s AND mm.message_id IS NOT NULL
             GROUP BY mm.model, mm.res_id, mm.message_id HAVING count(*) > 1""",
            [mailbox_id],
        )
        return by_mail + by_message_id

    def duplicate_links(self, mailbox_id):
        return self.real_db.query(
            """SELECT l.message_id, l.partner_id, l.lead_id, count(*)
                 FROM mailbox_message_link l JOIN mailbox_message m ON m.id = l.message_id
                WHERE m.mailbox_id = %s
             GROUP BY l.message_id, l.partner_id, l.lead_id HAVING count(*) > 1""",
            [mailbox_id],
        )

    def duplicate_leads(self):
        """Addresses with more than one lead (the create policy makes one per address)."""
        return self.real_db.query(
            """SELECT email_normalized, count(*) FROM crm_lead
                WHERE email_normalized IS NOT NULL
             GROUP BY email_normalized HAVING count(*) > 1"""
        )

    def assert_no_exception(self, results):
        for name, result in results.items():
            if "exception" in result:
                self.fail(f"worker {name} raised:\n{result['traceback']}")
