"""The outbox with real commits (issue 12): what the savepoint emulation cannot show.

Each test builds its mailbox, outgoing server and clients in a transaction of their own and
COMMITS them (the test's own transaction is never committed, so no other cursor or process
would see its records), then works with real cursors of the registry or a second OS process:
a request Odoo re-runs after a serialization failure, two workers sending at once, a worker
killed with SIGKILL after the SMTP server received the mail and before the bookkeeping, and
concurrent opens of a tracked mail. Everything is removed again at the end.
"""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError, ValidationError
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tests import TransactionCase
from odoo.tools import config

from .. import compat
from .common import CLIENT_DOMAIN, OUR_DOMAIN
from .dovecot import get_server
from .smtp_sink import get_sink

# What a second Odoo process runs: the outbox sends one mail (and is killed meanwhile).
CHILD = textwrap.dedent(
    """
    import sys
    from odoo import SUPERUSER_ID, api
    from odoo.tools import config
    rcfile, dbname, mail_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config.parse_config(["-c", rcfile, "-d", dbname, "--log-level=warn"])
    from odoo.modules.registry import Registry
    with Registry(dbname).cursor() as cr:
        api.Environment(cr, SUPERUSER_ID, {})["mailbox.outbox"]._send_queued(ids=[mail_id])
    """
)


class CommittedWorld:
    """A CRM mailbox on the test Dovecot, an outgoing server on the SMTP listener and
    ``contacts`` clients, committed; ``remove()`` deletes them and what was made of them."""

    def __init__(self, dbname, contacts=1):
        self.registry = Registry(dbname)
        dovecot = get_server()
        self.login = dovecot.add_user(f"outbox.{secrets.token_hex(4)}@{OUR_DOMAIN}")
        with self.env() as env:
            self.server_id = env["ir.mail_server"].create(get_sink().mail_server_values()).id
            mailbox = env["fetchmail.server"].create(
                {
                    "name": f"Outbox {self.login}",
                    "server_type": "imap",
                    "server": dovecot.host,
                    "port": dovecot.port_imap,
                    "connection_security": "none",
                    "user": self.login,
                    "password": dovecot.users[self.login],
                    "email_address": f"sales@{OUR_DOMAIN}",
                    "internal_domains": OUR_DOMAIN,
                    "crm_link_mode": "auto",
                    "mail_server_id": self.server_id,
                    "connect_timeout": 5,
                }
            )
            mailbox.button_confirm_login()  # finds Inbox and Sent
            self.mailbox_id = mailbox.id
            tag = secrets.token_hex(3)
            self.partner_ids = (
                env["res.partner"]
                .create(
                    [
                        {"name": f"Cliente {tag} {n}", "email": f"c{n}.{tag}@{CLIENT_DOMAIN}"}
                        for n in range(contacts)
                    ]
                )
                .ids
            )

    @contextlib.contextmanager
    def env(self, uid=SUPERUSER_ID):
        """An environment on a new cursor, committed at the end (unless it raises)."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, uid, {})

    def queue(self, env, partner_id, subject="Offerta"):
        """As the user presses Send in the composer of a client's card; the post-commit hook
        is dropped (the test runs the outbox itself)."""
        composer = (
            env["mailbox.compose"]
            .with_context(default_res_model="res.partner", default_res_id=partner_id)
            .create(
                {
                    "mailbox_id": self.mailbox_id,
                    "subject": subject,
                    "body": "<p>Buongiorno</p>",
                }
            )
        )
        composer.action_send()
        env.cr.postcommit.clear()
        return composer

    def mails(self, env):
        return env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox_id), ("direction", "=", "outgoing")]
        )

    def remove(self, attempts=5):
        """Delete what the world made, retried when a concurrent transaction (a worker still
        finishing) makes the delete fail: a committed mailbox left behind would become the
        default mailbox of the tests that follow."""
        for attempt in range(attempts):
            try:
                return self._remove()
            except (OperationalError, ValidationError, UserError):
                if attempt == attempts - 1:
                    raise
                time.sleep(1)

    def _remove(self):
        with self.env() as env:
            mails = env["mailbox.message"].search([("mailbox_id", "=", self.mailbox_id)])
            env["mail.message"].search(
                [
                    "|",
                    ("mcl_message_id", "in", mails.ids),
                    "&",
                    ("model", "=", "res.partner"),
                    ("res_id", "in", self.partner_ids),
                ]
            ).unlink()
            env["ir.attachment"].search(
                [("res_model", "=", "mailbox.message"), ("res_id", "in", mails.ids)]
            ).unlink()
            mails.unlink()
            mailbox = env["fetchmail.server"].browse(self.mailbox_id)
            source = mailbox.source_id  # its own, named after it
            mailbox.unlink()
            source.unlink()
            env["res.partner"].browse(self.partner_ids).unlink()
            env["ir.mail_server"].browse(self.server_id).unlink()


def join_outbox_threads(timeout=60):
    """Wait for the outbox's after-commit threads: their SMTP send and Sent-folder APPEND
    write on the world's rows, which must not be deleted under them."""
    for thread in threading.enumerate():
        if thread.name == "mail_crm_link.outbox":
            thread.join(timeout)


class TestOutboxCommits(TransactionCase):
    def world(self, contacts=1):
        world = CommittedWorld(self.env.cr.dbname, contacts)
        self.addCleanup(world.remove)
        self.addCleanup(join_outbox_threads)  # (cleanups run last first: before remove)
        return world

    @contextlib.contextmanager
    def real_smtp(self):
        """Odoo really talks SMTP (it skips it while a test runs), in every thread."""
        sink = get_sink()
        sink.reset()
        with compat.real_smtp(self.env):
            yield sink

    def test_request_retried_after_a_serialization_failure_sends_once(self):
        """Odoo re-runs a request whose transaction hit a serialization failure: the first
        run queued a mail and was rolled back, the second queues it again; the post-commit
        hook sends once, after the one commit."""
        world = self.world()
        (partner_id,) = world.partner_ids
        admin = self.env.ref("base.user_admin").id
        with world.env(admin) as env:  # the composer as the user filled it in
            composer_id = (
                env["mailbox.compose"]
                .with_context(default_res_model="res.partner", default_res_id=partner_id)
                .create({"mailbox_id": world.mailbox_id, "subject": "Retried", "body": "<p>x</p>"})
                .id
            )
        runs = []
        # Odoo talks SMTP until the mail was sent: the hook sends in a thread of its own
        with self.real_smtp() as sink:
            with world.env(admin) as env:

                def request():  # what /web/dataset/call_button runs inside retrying()
                    runs.append(len(runs) + 1)
                    env["mailbox.compose"].browse(composer_id).action_send()
                    if len(runs) == 1:
                        # meanwhile another transaction changes the client and commits: this
                        # transaction's own change of it cannot be serialized any more
                        with world.env() as other:
                            other.cr.execute("SET LOCAL lock_timeout = '10s'")
                            other.cr.execute(
                                "UPDATE res_partner SET comment = 'elsewhere' WHERE id = %s",
                                [partner_id],
                            )
                        env.cr.execute(
                            "UPDATE res_partner SET comment = 'here' WHERE id = %s", [partner_id]
                        )

                retrying(request, env)  # rolls back and re-runs, then commits (post-commit hook)
            self.assertEqual(runs, [1, 2])
            self.wait_sent(world, 1)
            self.assertEqual(len(sink.messages), 1)
            with world.env() as env:
                mails = world.mails(env)
                self.assertEqual(len(mails), 1)  # the first run's mail was rolled back
                self.assertEqual(mails.send_state, "sent")
                self.assertEqual(str(sink.messages[0]["Message-ID"]), mails.message_id)

    def wait_sent(self, world, count, timeout=60):
        """The post-commit hook sends in a thread of its own, then saves the mail in the Sent
        folder and commits that too: wait for both (the test's cleanup deleting the mail while
        the thread still writes it fails on a serialization error)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with world.env() as env:
                mails = world.mails(env)
                states = mails.mapped("send_state")
                saving = "todo" in mails.mapped("append_state")
            if len(states) == count and set(states) <= {"sent", "failed"} and not saving:
                return states
            time.sleep(0.2)
        self.fail(f"not sent and saved within {timeout}s: {states}")

    def test_the_request_does_not_wait_for_the_mail_server(self):
        """Send answers at once even when the mail server is slow to take the mail: the
        mail leaves after the commit, in a thread of its own, once."""
        world = self.world()
        (partner_id,) = world.partner_ids
        admin = self.env.ref("base.user_admin").id
        with self.real_smtp() as sink:
            sink.delay = 5  # the server takes 5 s to answer the mail
            with world.env(admin) as env:
                (
                    env["mailbox.compose"]
                    .with_context(default_res_model="res.partner", default_res_id=partner_id)
                    .create({"mailbox_id": world.mailbox_id, "subject": "Slow", "body": "<p>x</p>"})
                    .action_send()
                )
            # the request's transaction is committed and its post-commit hook has run
            with world.env() as env:
                self.assertIn(world.mails(env).send_state, ("queued", "sending"))
            self.assertEqual(self.wait_sent(world, 1), ["sent"])
            self.assertEqual(len(sink.messages), 1)

    def test_two_workers_send_each_mail_once(self):
        """The post-commit hook and the cron (or two cron workers) at the same time: each
        mail is claimed by one of them (FOR UPDATE SKIP LOCKED), each leaves once."""
        world = self.world(contacts=12)
        with world.env() as env:
            for partner_id in world.partner_ids:
                world.queue(env, partner_id)
            ids = world.mails(env).ids
        self.assertEqual(len(ids), 12)
        results, errors = [], []
        start = threading.Barrier(2)

        def worker():
            try:
                start.wait(timeout=30)
                with world.env() as env:
                    results.append(env["mailbox.outbox"]._send_queued(ids=ids))
            except Exception as exc:  # noqa: BLE001 (reported by the test)
                errors.append(exc)

        with self.real_smtp() as sink:
            sink.delay = 0.05  # a network's pace: the two workers overlap
            threads = [threading.Thread(target=worker) for _n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            received = sink.message_ids()
        self.assertFalse(errors)
        self.assertEqual(len(received), 12)
        self.assertEqual(len(set(received)), 12)
        self.assertEqual(sum(r["sent"] for r in results), 12)
        with world.env() as env:
            self.assertEqual(set(world.mails(env).mapped("send_state")), {"sent"})
            self.assertEqual(get_server().count(world.login, "Sent"), 12)

    def test_worker_killed_after_the_send_and_before_the_bookkeeping_sends_once(self):
        """A second Odoo process sends; the SMTP listener has the mail and has not answered
        yet when the process is killed (SIGKILL). The mail stays 'sending'; the cron finds
        it unlocked, says it may have been sent, and never sends it again by itself."""
        world = self.world()
        with world.env() as env:
            world.queue(env, world.partner_ids[0], subject="Killed")
            (mail_id,) = world.mails(env).ids
        with self.real_smtp() as sink:
            sink.hold = threading.Event()
            log = self.enterContext(tempfile.TemporaryFile())
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, config.rcfile, self.env.cr.dbname, str(mail_id)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                received = sink.received.wait(timeout=240)
                log.seek(0)
                self.assertTrue(received, log.read().decode(errors="replace"))
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=30)
            finally:
                sink.hold.set()
                if child.poll() is None:
                    child.kill()
            self.assertEqual(len(sink.messages), 1)
            with world.env() as env:
                self.assertEqual(env["mailbox.message"].browse(mail_id).send_state, "sending")
            recovered = None
            for _attempt in range(50):  # until PostgreSQL has dropped the dead session
                with world.env() as env:
                    recovered = env["mailbox.outbox"]._recover_stale(minutes=0).ids
                if recovered:
                    break
                time.sleep(0.2)
            self.assertEqual(recovered, [mail_id])
            with world.env() as env:
                env["mailbox.outbox"]._cron_send()  # what the cron does next: nothing
                mail = env["mailbox.message"].browse(mail_id)
                self.assertEqual(mail.send_state, "failed")
                self.assertIn("it may have been sent", mail.send_error)
            self.assertEqual(len(sink.messages), 1)

    def test_concurrent_opens_count_once_a_minute(self):
        """The open counter is one UPDATE: ten opens in concurrent transactions (each request
        re-run by Odoo on a serialization failure, as HTTP requests are) within a minute
        count once, neither zero times nor twice; a minute later, again once (issue 23)."""
        world = self.world()
        token = secrets.token_urlsafe(12)
        with world.env() as env:
            mail = env["mailbox.message"].create(
                {"mailbox_id": world.mailbox_id, "dedup_key": f"<{token}@x>"}
            )
            mail.open_token = token
        errors = []

        def opener():
            try:
                for _n in range(5):
                    with world.env() as env:
                        retrying(
                            lambda env=env: env["mailbox.message"]._mcl_record_open(token), env
                        )
            except Exception as exc:  # noqa: BLE001 (reported by the test)
                errors.append(exc)

        threads = [threading.Thread(target=opener) for _n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(errors)
        with world.env() as env:
            mail = env["mailbox.message"].search([("dedup_key", "=", f"<{token}@x>")])
            self.assertEqual(mail.open_count, 1)
            self.assertTrue(mail.open_first <= mail.open_last)
            env.cr.execute(
                "UPDATE mailbox_message SET open_last = open_last - interval '61 seconds'"
                " WHERE id = %s",
                [mail.id],
            )
        opener()
        self.assertFalse(errors)
        with world.env() as env:
            mail = env["mailbox.message"].search([("dedup_key", "=", f"<{token}@x>")])
            self.assertEqual(mail.open_count, 2)
