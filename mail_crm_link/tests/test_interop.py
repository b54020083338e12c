"""The interop matrix: the same sync tests against Dovecot, Cyrus, Courier and Mailutils.

Each server runs privately on loopback (tests/dovecot.py, cyrus.py, courier.py, mailutils.py)
with its own Debian layout: Dovecot "Sent" with SPECIAL-USE, Cyrus "INBOX/Sent" with
SPECIAL-USE, Courier "INBOX.Sent" without it, Mailutils imap4d "Sent" (mbox files) without it.
The tests go through the mailbox's entry points (``_mcl_sync()``, ``folder_ids``,
``button_confirm_login()``; push through the IDLE transport, as TestPush does), so they hold
whatever the sync does inside.
"""

import subprocess
import sys
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tools import config

from ..mailflow import imap_sync
from . import courier, cyrus, dovecot, mailutils
from .common import CLIENT_DOMAIN, OUR_DOMAIN
from .interop_common import FetchTrap, MailServerCase

# A sync worker of its own (an OS process), as the cron runs one: killed by the test mid-sync.
WORKER = """
import sys
import odoo
from odoo.tools import config
config.parse_config(["-c", sys.argv[1], "--log-level=critical"])
registry = odoo.modules.registry.Registry(sys.argv[2])
with registry.cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    print(env["fetchmail.server"].browse(int(sys.argv[3]))._mcl_sync(batch_size=3))
"""


class SyncMatrix:
    """The test bodies, run on each server (the concrete classes below say which)."""

    # UID FETCH commands a first sync of the inbox sends before its batches: a server whose
    # SEARCH misses new mail gets the sync's cross-check, a listing by UID FETCH, first
    listing_fetches = 0

    def test_read_and_unread_state_untouched(self):
        login = self.make_mail_user()
        unread = self.server.append(login, self.corpus.message(lang="uk"))
        read = self.server.append(login, self.corpus.message(lang="ru"), seen=True)
        mailbox = self.make_mailbox(login)

        result = self.sync(mailbox)

        self.assertEqual(result["new"], 2)
        self.assertEqual(len(self.stored(mailbox)), 2)
        flags = self.server.flags(login)
        self.assertNotIn("\\Seen", flags[unread], "unread mail stays unread")
        self.assertIn("\\Seen", flags[read], "read mail is imported and stays read")

    def test_sent_is_captured_and_spam_skipped(self):
        login = self.make_mail_user()
        sent, junk = self.folder("Sent"), self.folder("Junk")
        self.server.create_folder(login, sent, special_use="\\Sent")
        self.server.create_folder(login, junk, special_use="\\Junk")
        self.server.append(
            login,
            self.corpus.message(
                sender=("Sales", login),
                to=("Giulia Rossi", f"giulia.rossi@{CLIENT_DOMAIN}"),
                subject="Preventivo aggiornato",
            ),
            folder=sent,
            seen=True,
        )
        self.server.append(login, self.corpus.message(subject="Cheap pills"), folder=junk)
        self.server.append(login, self.corpus.message(subject="Richiesta"))
        mailbox = self.make_mailbox(login)
        mailbox.button_confirm_login()

        self.sync(mailbox)

        roles = {f.role: f for f in mailbox.folder_ids}
        self.assertEqual(roles["sent"].name, sent)
        self.assertEqual(roles["spam"].name, junk)
        self.assertEqual(
            sorted(mailbox.folder_ids.filtered("sync").mapped("name")), sorted(["INBOX", sent])
        )
        outgoing = self.stored(mailbox, subject="Preventivo aggiornato")
        self.assertEqual(outgoing.direction, "outgoing")
        self.assertEqual(outgoing.folder_id, roles["sent"])
        self.assertEqual(self.stored(mailbox, subject="Richiesta").direction, "incoming")
        self.assertFalse(self.stored(mailbox, subject="Cheap pills"), "spam is never imported")

    def test_import_window(self):
        login = self.make_mail_user()
        old_date = datetime.now(timezone.utc) - timedelta(days=30)
        self.server.append(
            login, self.corpus.message(subject="Old offer", date=old_date), date=old_date
        )
        self.server.append(login, self.corpus.message(subject="Fresh offer"))
        recent = self.make_mailbox(login, import_window="days", import_days=7)
        self.sync(recent)
        self.assertEqual(self.stored(recent).mapped("subject"), ["Fresh offer"])

        # later mail is imported whatever its date: the window was the initial import's
        self.server.append(
            login, self.corpus.message(subject="Late reply", date=old_date), date=old_date
        )
        self.sync(recent)
        self.assertEqual(
            sorted(self.stored(recent).mapped("subject")), ["Fresh offer", "Late reply"]
        )

        everything = self.make_mailbox(login, import_window="all")
        self.sync(everything)
        self.assertEqual(len(self.stored(everything)), 3)

    def test_uidvalidity_change_does_not_duplicate(self):
        login = self.make_mail_user()
        self.server.append_many(login, [self.corpus.message() for _i in range(3)])
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        inbox = mailbox.folder_ids.filtered(lambda f: f.role == "inbox")
        old_validity = inbox.uidvalidity

        new_validity = self.server.change_uidvalidity(login)
        self.server.append(login, self.corpus.message(subject="After migration"))
        self.sync(mailbox)

        self.assertNotEqual(old_validity, new_validity)
        self.assertEqual(inbox.uidvalidity, new_validity)
        self.assertEqual(len(self.stored(mailbox)), 4)
        self.assertEqual(len(self.stored(mailbox, subject="After migration")), 1)

    def test_idle_wakes_on_append(self):
        login = self.make_mail_user()
        mailbox = self.make_mailbox(login, push_enabled=True)
        self.sync(mailbox)
        conn = mailbox._mcl_connect()
        try:
            imap_sync.examine(conn, "INBOX")
            self.assertFalse(imap_sync.idle_wait(conn, timeout=0.5), "nothing new: timeout")
            appender = threading.Timer(
                0.5, self.server.append, args=(login, self.corpus.message(subject="Pushed"))
            )
            appender.start()
            self.assertTrue(imap_sync.idle_wait(conn, timeout=20), "the APPEND wakes IDLE")
            appender.join()
        finally:
            mailbox._mcl_disconnect(conn)
        self.sync(mailbox)
        self.assertTrue(self.stored(mailbox, subject="Pushed"))

    def test_killed_worker_resumes_without_loss_or_duplicate(self):
        """kill -9 of a sync worker (an OS process of its own, real commits) when it asks
        for its third batch: the next sync takes up from the last committed batch."""
        login = self.make_mail_user()
        subjects = [f"Order {i}" for i in range(10)]
        self.server.append_many(login, [self.corpus.message(subject=s) for s in subjects])
        worker = {}
        trap = FetchTrap(
            self.server.host,
            self.server.port_imap,
            armed=3 + self.listing_fetches,
            on_trap=lambda: worker["p"].kill(),
        )
        self.addCleanup(trap.close)
        mailbox_id = self.committed_mailbox(login, port=trap.port)

        worker["p"] = subprocess.Popen(
            [sys.executable, "-c", WORKER, config.rcfile, self.env.cr.dbname, str(mailbox_id)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.addCleanup(worker["p"].kill)  # whatever happens, no worker outlives the test
        output, _err = worker["p"].communicate(timeout=600)
        self.assertTrue(trap.sprung.is_set(), f"the worker was not stopped mid-sync: {output}")
        self.assertEqual(worker["p"].returncode, -9)
        before = self.committed_subjects(mailbox_id)
        self.assertTrue(0 < len(before) < 10, f"{len(before)} stored before the kill")

        trap.armed = None
        result = self.committed_sync(mailbox_id, batch_size=3)

        self.assertFalse(result.get("error"), result)
        self.assertEqual(sorted(self.committed_subjects(mailbox_id)), sorted(subjects))

    # -- real commits (outside the test's transaction) -------------------------------------------
    def committed_mailbox(self, login, **values):
        """A mailbox committed to the database, as an administrator saves it (removed at the
        end of the test), so that another process sees it."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            mailbox = env["fetchmail.server"].create(
                {
                    "name": f"Committed {login}",
                    "server_type": "imap",
                    "server": self.server.host,
                    "port": self.server.port_imap,
                    "connection_security": "none",
                    "internal_domains": OUR_DOMAIN,
                    "connect_timeout": 5,
                    "state": "done",
                    "user": login,
                    "password": self.server.users[login],
                    "crm_link_mode": "manual",  # stored only: nothing else to clean up
                    **values,
                }
            )
            mailbox_id = mailbox.id
        self.addCleanup(self._drop_committed_mailbox, mailbox_id)
        return mailbox_id

    def _drop_committed_mailbox(self, mailbox_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            mailbox = env["fetchmail.server"].browse(mailbox_id)
            source = mailbox.source_id  # its own, named after it
            mailbox.mailbox_message_ids.unlink()
            mailbox.unlink()
            source.unlink()

    def committed_subjects(self, mailbox_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            domain = [("mailbox_id", "=", mailbox_id)]
            return env["mailbox.message"].search(domain).mapped("subject")

    def committed_sync(self, mailbox_id, **kwargs):
        """A sync in transactions of its own, as the cron runs it. A killed worker's database
        session may still hold the mailbox for a moment: each new try is a new transaction."""
        deadline = time.monotonic() + 30
        while True:
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                result = env["fetchmail.server"].browse(mailbox_id)._mcl_sync(**kwargs)
            if not result.get("busy") or time.monotonic() > deadline:
                return result
            time.sleep(0.2)


@tagged("post_install", "-at_install")
class TestInteropDovecot(SyncMatrix, MailServerCase):
    get_mail_server = staticmethod(dovecot.get_server)


@tagged("post_install", "-at_install")
class TestInteropCyrus(SyncMatrix, MailServerCase):
    get_mail_server = staticmethod(cyrus.get_server)


@tagged("post_install", "-at_install")
class TestInteropCourier(SyncMatrix, MailServerCase):
    get_mail_server = staticmethod(courier.get_server)

    def test_mail_delivered_into_the_maildir_imported_once(self):
        """On a Courier server mail arrives by delivery into the maildir (not by APPEND)."""
        login = self.make_mail_user()
        for i in range(3):
            self.server.deliver(login, self.corpus.message(subject=f"Delivered {i}"))
        mailbox = self.make_mailbox(login)
        self.assertEqual(self.sync(mailbox)["new"], 3)
        self.server.deliver(login, self.corpus.message(subject="Delivered later"))
        time.sleep(1.1)  # Courier's UIDVALIDITY of a folder without a UID database: the clock
        self.assertEqual(self.sync(mailbox)["new"], 1)
        self.assertEqual(len(self.stored(mailbox)), 4)
        self.assertFalse(any("\\Seen" in f for f in self.server.flags(login).values()))

    @unittest.expectedFailure
    def test_delivered_mail_is_not_fetched_again(self):
        """Known: Courier saves a folder's UID database only in a read-write session, and the
        sync opens folders read-only (EXAMINE). When nothing else opens the folder read-write,
        each session gets a new UIDVALIDITY (from the clock), so every sync fetches the
        whole import window again (nothing is stored twice: the dedup holds)."""
        login = self.make_mail_user()
        for i in range(3):
            self.server.deliver(login, self.corpus.message(subject=f"Delivered {i}"))
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        time.sleep(1.1)
        self.assertEqual(self.sync(mailbox)["fetched"], 0)


@tagged("post_install", "-at_install")
class TestInteropMailutils(SyncMatrix, MailServerCase):
    get_mail_server = staticmethod(mailutils.get_server)
    listing_fetches = 1  # its UID SEARCH UID n:* finds nothing (see mailutils.py)

    def test_idle_wakes_on_append(self):
        self.skipTest(
            "GNU Mailutils imap4d announces IDLE but never reports a change while idling: it "
            "waits for DONE and looks at the mailbox only when the client sends another line"
        )

    def test_a_broken_search_is_met_by_the_self_check(self):
        """imap4d's ``UID SEARCH UID n:*`` finds nothing (issue 24): the sync sees that the
        server's own counts say otherwise, lists the folder by FETCH, stores every mail and
        says so on the mailbox. A sync that trusted the SEARCH would store nothing here."""
        login = self.make_mail_user()
        raws = [self.corpus.message(subject=f"Ordine {i}") for i in range(5)]
        self.server.append_many(login, raws)
        mailbox = self.make_mailbox(login, import_window="all")
        result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertEqual(len(self.stored(mailbox)), 5)
        inbox = mailbox.folder_ids.filtered(lambda f: f.role == "inbox")
        self.assertIn("FETCH", inbox.sync_warning)
        self.assertIn(inbox.sync_warning, mailbox.sync_warning)
        self.assertEqual((inbox.server_count, inbox.stored_count), (5, 5))
        self.server.append(login, self.corpus.message(subject="Nuovo"))
        self.sync(mailbox)
        self.assertEqual(len(self.stored(mailbox)), 6, "new mail found too, once")
