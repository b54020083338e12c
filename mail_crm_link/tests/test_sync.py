"""Mailbox sync against the real Dovecot: nothing lost, nothing duplicated, nothing marked."""

import base64
import logging
import random
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, tagged

from ..cli.mailbox_listen import MailboxListener
from ..mailflow import imap_sync, parse, policy, push
from ..services.mailbox_sync import LOCK_NAMESPACE
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon
from .corpus import Corpus
from .dovecot import get_server

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestImapSync(MailCrmLinkCommon):
    def test_read_and_unread_state_untouched(self):
        login = self.make_mail_user()
        unread = self.dovecot.append(login, self.corpus.message(lang="uk"))
        read = self.dovecot.append(login, self.corpus.message(lang="ru"), seen=True)
        mailbox = self.make_mailbox(login)

        result = self.sync(mailbox)

        self.assertEqual(result["new"], 2)
        self.assertEqual(len(self.stored(mailbox)), 2)
        flags = self.dovecot.flags(login)
        self.assertNotIn("\\Seen", flags[unread], "unread mail stays unread")
        self.assertIn(
            "\\Seen",
            flags[read],
            "read mail is imported too (Odoo's fetchmail only sees UNSEEN mail)",
        )

    def test_sent_is_outgoing_and_spam_is_skipped(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login,
            self.corpus.message(
                sender=("Sales", login),
                to=("Giulia Rossi", f"giulia.rossi@{CLIENT_DOMAIN}"),
                subject="Preventivo aggiornato",
            ),
            folder="Sent",
        )
        self.dovecot.append(login, self.corpus.message(subject="Cheap pills"), folder="Junk")
        self.dovecot.append(login, self.corpus.message(subject="Richiesta"))
        mailbox = self.make_mailbox(login)

        self.sync(mailbox)

        roles = {f.role: f for f in mailbox.folder_ids}
        self.assertEqual(roles["sent"].name, "Sent")
        self.assertEqual(roles["spam"].name, "Junk")
        self.assertFalse(roles["spam"].sync)
        sent = self.stored(mailbox, subject="Preventivo aggiornato")
        self.assertEqual(sent.direction, "outgoing")
        self.assertEqual(sent.folder_id, roles["sent"])
        self.assertEqual(self.stored(mailbox, subject="Richiesta").direction, "incoming")
        self.assertFalse(self.stored(mailbox, subject="Cheap pills"), "spam is never imported")

    def test_spam_folder_cannot_be_inbox_nor_synced(self):
        login = self.make_mail_user()
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        spam = mailbox.folder_ids.filtered(lambda f: f.role == "spam")
        with self.assertRaisesRegex(ValidationError, "never synchronized"):
            spam.sync = True
        self.env.invalidate_all()
        inbox = mailbox.folder_ids.filtered(lambda f: f.role == "inbox")
        with self.assertRaisesRegex(ValidationError, "Inbox cannot be the Spam folder"):
            inbox.write({"role": "spam", "sync": False})

    def test_import_window(self):
        login = self.make_mail_user()
        old_date = datetime.now(timezone.utc) - timedelta(days=30)
        self.dovecot.append(
            login, self.corpus.message(subject="Old offer", date=old_date), date=old_date
        )
        self.dovecot.append(login, self.corpus.message(subject="Fresh offer"))
        recent = self.make_mailbox(login, import_window="days", import_days=7)
        self.sync(recent)
        self.assertEqual(self.stored(recent).mapped("subject"), ["Fresh offer"])

        # later mail arrives: imported whatever its date, the window was the initial import's
        self.dovecot.append(
            login, self.corpus.message(subject="Late reply", date=old_date), date=old_date
        )
        self.sync(recent)
        self.assertEqual(len(self.stored(recent)), 2)
        self.assertFalse(self.stored(recent, subject="Old offer"))

        everything = self.make_mailbox(login, import_window="all")
        self.sync(everything)
        self.assertEqual(len(self.stored(everything)), 3)

    def test_crash_mid_sync_resumes_without_loss_or_duplicate(self):
        login = self.make_mail_user()
        raws = [self.corpus.message(subject=f"Order {i}") for i in range(10)]
        self.dovecot.append_many(login, raws)
        mailbox = self.make_mailbox(login)

        real_fetch = imap_sync.fetch_batch
        calls = []

        def fetch_then_die(conn, uids, *args, **kwargs):
            calls.append(uids)
            if len(calls) == 3:
                raise ConnectionResetError("connection lost in the middle of a fetch")
            return real_fetch(conn, uids, *args, **kwargs)

        with patch.object(imap_sync, "fetch_batch", fetch_then_die):
            result = self.sync(mailbox, batch_size=3)
        self.assertIn("cannot be reached", result["error"])
        self.assertEqual(len(self.stored(mailbox)), 6, "two batches were committed")
        self.assertEqual(mailbox.failure_count, 1)

        result = self.sync(mailbox, batch_size=3)
        self.assertFalse(result.get("error"))
        subjects = self.stored(mailbox).mapped("subject")
        self.assertEqual(sorted(subjects), sorted(f"Order {i}" for i in range(10)))
        self.assertEqual(mailbox.failure_count, 0)
        self.assertFalse(mailbox.last_error)

    def test_crash_while_storing_resumes(self):
        """A failure after a batch is stored but before its checkpoint: the batch is rolled
        back with its checkpoint and fetched again."""
        login = self.make_mail_user()
        self.dovecot.append_many(login, [self.corpus.message() for _i in range(5)])
        mailbox = self.make_mailbox(login)
        Linker = type(self.env["mailbox.crm.linker"])
        real_hook = Linker._link_safely
        batches = []

        def hook_then_die(self_, records, **kwargs):
            batches.append(records)
            if len(batches) == 2:
                raise OSError("worker killed")
            return real_hook(self_, records, **kwargs)

        with patch.object(Linker, "_link_safely", hook_then_die):
            self.sync(mailbox, batch_size=2)
        self.assertEqual(len(self.stored(mailbox)), 2)
        self.sync(mailbox, batch_size=2)
        self.assertEqual(len(self.stored(mailbox)), 5)

    def test_uidvalidity_change_does_not_duplicate(self):
        login = self.make_mail_user()
        self.dovecot.append_many(login, [self.corpus.message() for _i in range(3)])
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        inbox = mailbox.folder_ids.filtered(lambda f: f.role == "inbox")
        old_validity = inbox.uidvalidity

        new_validity = self.dovecot.change_uidvalidity(login)
        self.dovecot.append(login, self.corpus.message(subject="After migration"))
        self.sync(mailbox)

        self.assertEqual(inbox.uidvalidity, new_validity)
        self.assertNotEqual(old_validity, new_validity)
        self.assertEqual(len(self.stored(mailbox)), 4)

    def test_same_message_in_two_folders_stored_once(self):
        login = self.make_mail_user()
        raw = self.corpus.message(subject="Copied to a client folder")
        self.dovecot.create_folder(login, "Clients")
        self.dovecot.append(login, raw)
        self.dovecot.append(login, raw, folder="Clients")
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        mailbox.folder_ids.filtered(lambda f: f.name == "Clients").sync = True
        self.sync(mailbox)
        self.assertEqual(len(self.stored(mailbox)), 1)

    def test_malformed_message_kept_in_error_and_others_imported(self):
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message(subject="Before"))
        broken = self.corpus.malformed("bad-boundary")
        self.dovecot.append(login, broken)
        self.dovecot.append(login, self.corpus.malformed("no-headers"))
        self.dovecot.append(login, self.corpus.malformed("empty-multipart"))
        self.dovecot.append(login, self.corpus.malformed("bad-charset"))
        self.dovecot.append(login, self.corpus.message(subject="After"))
        mailbox = self.make_mailbox(login)

        self.sync(mailbox)

        errors = self.stored(mailbox, state="error")
        self.assertEqual(len(errors), 2)
        self.assertTrue(all(errors.mapped("raw_source")), "the raw source is kept")
        self.assertIn("malformed MIME", " ".join(errors.mapped("error_reason")))
        self.assertEqual(mailbox.count_failed, 2)
        ok = self.stored(mailbox).filtered(lambda m: m.state != "error")
        self.assertEqual(len(ok), 4)
        self.assertIn("unknown charset", " ".join(filter(None, ok.mapped("parse_warnings"))))
        # a broken structure whose file could be read is stored as mail, marked (issue 25)
        damaged = ok.filtered("damaged")
        self.assertEqual(damaged.mapped("subject"), [parse.parse(broken).subject])
        self.assertEqual(base64.b64decode(damaged.raw_source), broken)
        # bounded retries, never lost
        for _i in range(5):
            errors.action_retry()
        self.sync(mailbox)
        self.assertEqual(len(self.stored(mailbox, state="error")), 2)

    def test_attachments_and_charsets_stored(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login,
            self.corpus.message(
                sender=("Олена Коваленко", f"olena@{CLIENT_DOMAIN}"),
                subject="Рахунок на оплату",
                lang="uk",
                charset="windows-1251",
                attachments=["Специфікація.pdf"],
            ),
        )
        self.dovecot.append(
            login,
            self.corpus.message(
                subject="Счёт на оплату", lang="ru", charset="koi8-r", inline_image=True
            ),
        )
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        uk = self.stored(mailbox, subject="Рахунок на оплату")
        self.assertEqual(uk.attachment_ids.name, "Специфікація.pdf")
        self.assertIn("Олена Коваленко", uk.email_from)
        self.assertIn("Доброго дня", uk.body_text)
        self.assertTrue(self.stored(mailbox, subject="Счёт на оплату").attachment_ids)

    def test_html_is_sanitized(self):
        login = self.make_mail_user()
        raw = (
            b"From: x@client.example\r\nTo: sales@mycompany.example\r\nSubject: xss\r\n"
            b"Message-ID: <xss@client.example>\r\nContent-Type: text/html\r\n\r\n"
            b'<p onclick="steal()">Hi</p><script>alert(1)</script>\r\n'
        )
        self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        body = str(self.stored(mailbox).body_html)
        self.assertIn("Hi", body)
        self.assertNotIn("<script", body)
        self.assertNotIn("onclick", body)

    def test_internal_mail_is_not_crm_material(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login, self.corpus.internal(f"anna@{OUR_DOMAIN}", f"marco@{OUR_DOMAIN}")
        )
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        self.assertEqual(self.stored(mailbox).state, "ignored")

    def test_two_syncs_of_one_mailbox_never_run_at_once(self):
        """Another worker (a second database connection) holds the mailbox: this sync
        stands aside, then runs once the other is done."""
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message())
        mailbox = self.make_mailbox(login)
        with self.registry.cursor() as other_worker:
            other_worker.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, mailbox.id]
            )
            self.assertTrue(other_worker.fetchone()[0])
            self.assertEqual(self.sync(mailbox), {"busy": True})
            self.assertFalse(self.stored(mailbox))
            other_worker.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, mailbox.id])
        self.assertEqual(self.sync(mailbox)["new"], 1)
        # and the lock is released after a sync: a second connection can take it
        with self.registry.cursor() as other_worker:
            other_worker.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, mailbox.id]
            )
            self.assertTrue(other_worker.fetchone()[0])
            other_worker.execute("SELECT pg_advisory_unlock_all()")

    def test_cron_syncs_due_mailboxes_only(self):
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message())
        due = self.make_mailbox(login)
        later = self.make_mailbox(login, next_sync_at=datetime.now() + timedelta(hours=1))
        native = self.make_mailbox(login, crm_link_mode="off")
        self.env["fetchmail.server"]._cron_sync()
        self.env.invalidate_all()
        self.assertEqual(len(self.stored(due)), 1)
        self.assertFalse(self.stored(later))
        self.assertFalse(self.stored(native))
        self.assertTrue(due.next_sync_at > datetime.now())

    def test_sync_now_schedules_the_cron(self):
        mailbox = self.make_mailbox(self.make_mail_user())
        action = mailbox.action_sync_now()
        self.assertEqual(action["tag"], "display_notification")  # the user is told
        cron = self.env.ref("mail_crm_link.ir_cron_mailbox_sync")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self.assertLessEqual(mailbox.next_sync_at, datetime.now())


@tagged("post_install", "-at_install")
class TestConnectionErrors(MailCrmLinkCommon):
    def test_wrong_password_says_so_and_never_shows_it(self):
        login = self.make_mail_user(password="right-password")
        mailbox = self.make_mailbox(login, password="Wr0ng-S3cret")
        with self.assertRaises(UserError) as caught:
            mailbox.button_confirm_login()
        self.assertIn("refused the login or password", str(caught.exception))
        self.assertNotIn("Wr0ng-S3cret", str(caught.exception))

        with self.assertLogs("odoo.addons.mail_crm_link", level="WARNING") as logs:
            result = self.sync(mailbox)
        self.assertIn("refused the login or password", result["error"])
        self.assertIn("refused the login or password", mailbox.last_error)
        self.assertNotIn("Wr0ng-S3cret", "\n".join(logs.output) + mailbox.last_error)

    def test_repeated_failures_notify_owner_then_recover(self):
        login = self.make_mail_user(password="right-password")
        mailbox = self.make_mailbox(
            login, password="old-password", owner_id=self.user_sales_salesman.id
        )
        for _i in range(3):
            self.sync(mailbox)
        self.assertEqual(mailbox.failure_count, 3)
        notice = self.env["mail.message"].search(
            [("model", "=", "fetchmail.server"), ("res_id", "=", mailbox.id)]
        )
        self.assertEqual(len(notice), 1)
        self.assertIn(self.user_sales_salesman.partner_id, notice.notified_partner_ids)
        self.assertIn("cannot be synchronized", notice.subject)
        self.assertNotIn("old-password", str(notice.body))

        mailbox.password = "right-password"  # the user fixes it: syncing resumes by itself
        self.dovecot.append(login, self.corpus.message())
        self.sync(mailbox)
        self.assertEqual(mailbox.failure_count, 0)
        self.assertEqual(len(self.stored(mailbox)), 1)

    def test_password_is_for_administrators_only(self):
        mailbox = self.make_mailbox(self.make_mail_user())
        self.assertTrue(mailbox.with_user(self.user_sales_manager).name)  # the mailbox: yes
        with self.assertRaises(AccessError):  # its password: no
            mailbox.with_user(self.user_sales_manager).read(["password"])
        self.assertTrue(mailbox.with_user(self.user_admin).password)

    def test_personal_mailbox_visible_to_owner_and_members_only(self):
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message(subject="Personal"))
        mailbox = self.make_mailbox(
            login,
            mailbox_access="personal",
            owner_id=self.user_sales_salesman.id,
            member_ids=[(4, self.user_sales_leads.id)],
        )
        shared_login = self.make_mail_user()
        self.dovecot.append(shared_login, self.corpus.message(subject="Shared"))
        shared = self.make_mailbox(shared_login)
        self.sync(mailbox)
        self.sync(shared)
        Message = self.env["mailbox.message"]
        domain = [("mailbox_id", "in", (mailbox | shared).ids)]
        for user, subjects in (
            (self.user_sales_salesman, {"Personal", "Shared"}),  # owner
            (self.user_sales_leads, {"Personal", "Shared"}),  # chosen user
            (self.user_sales_manager, {"Personal", "Shared"}),  # managers see all
        ):
            self.assertEqual(
                set(Message.with_user(user).search(domain).mapped("subject")), subjects, user.name
            )
        other = self.user_sales_salesman.copy({"login": "other_salesman"})
        self.assertEqual(Message.with_user(other).search(domain).mapped("subject"), ["Shared"])
        with self.assertRaises(AccessError):
            Message.with_user(self.user_no_crm).search(domain)

    def test_unreachable_host(self):
        mailbox = self.make_mailbox(self.make_mail_user(), port=_closed_port())
        with self.assertRaisesRegex(UserError, "cannot be reached on port"):
            mailbox.button_confirm_login()

    def test_silent_server_times_out(self):
        """A server that accepts the connection and never answers: a clear timeout, and only
        this mailbox waits (for its own timeout)."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            mailbox = self.make_mailbox(
                self.make_mail_user(), port=silent.getsockname()[1], connect_timeout=1
            )
            with self.assertRaisesRegex(UserError, "did not answer in time"):
                mailbox.button_confirm_login()

    def test_tls_certificate_and_starttls(self):
        login = self.make_mail_user()
        strict = self.make_mailbox(login, security="ssl", tls_verify=True)
        with self.assertRaisesRegex(UserError, "certificate of 127.0.0.1 could not be verified"):
            strict.button_confirm_login()
        self.make_mailbox(login, security="ssl").button_confirm_login()
        starttls = self.make_mailbox(login, security="starttls")
        starttls.button_confirm_login()
        self.dovecot.append(login, self.corpus.message())
        self.assertEqual(self.sync(starttls)["new"], 1)

    def test_missing_folder(self):
        login = self.make_mail_user()
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        self.env["mailbox.folder"].create(
            {"mailbox_id": mailbox.id, "name": "Gone", "label": "Gone", "sync": True}
        )
        result = self.sync(mailbox)
        self.assertIn("no longer exists", result["error"])


@tagged("post_install", "-at_install")
class TestPop3Sync(MailCrmLinkCommon):
    def test_pop3_keeps_messages_and_flags(self):
        login = self.make_mail_user()
        read = self.dovecot.append(login, self.corpus.message(subject="Letto"), seen=True)
        unread = self.dovecot.append(login, self.corpus.message(subject="Non letto"))
        mailbox = self.make_mailbox(login, protocol="pop", import_window="all")

        self.assertEqual(self.sync(mailbox)["new"], 2)
        self.assertEqual(self.sync(mailbox)["new"], 0, "UIDLs already stored are not fetched")
        self.assertEqual(len(self.stored(mailbox)), 2)
        self.assertTrue(all(self.stored(mailbox).mapped("pop_uidl")))
        flags = self.dovecot.flags(login)
        self.assertIn("\\Seen", flags[read])
        self.assertNotIn("\\Seen", flags[unread], "TOP, not RETR: unread stays unread")
        self.assertEqual(self.dovecot.count(login), 2)

    def test_pop3_delete_after_import(self):
        login = self.make_mail_user()
        self.dovecot.append_many(login, [self.corpus.message() for _i in range(3)])
        mailbox = self.make_mailbox(
            login, protocol="pop", security="ssl", pop_delete=True, import_window="all"
        )
        self.assertEqual(self.sync(mailbox)["new"], 3)
        self.assertEqual(self.dovecot.count(login), 0)
        self.assertEqual(len(self.stored(mailbox)), 3)


@tagged("post_install", "-at_install")
class TestPush(MailCrmLinkCommon):
    def test_idle_wakes_on_append(self):
        login = self.make_mail_user()
        mailbox = self.make_mailbox(login, push_enabled=True)
        self.sync(mailbox)
        conn = mailbox._mcl_connect()
        try:
            imap_sync.examine(conn, "INBOX")
            self.assertFalse(imap_sync.idle_wait(conn, timeout=0.5), "nothing new: timeout")
            appender = threading.Timer(
                0.5, self.dovecot.append, args=(login, self.corpus.message(subject="Pushed"))
            )
            appender.start()
            self.assertTrue(imap_sync.idle_wait(conn, timeout=20))
            appender.join()
        finally:
            mailbox._mcl_disconnect(conn)
        self.sync(mailbox)
        self.assertTrue(self.stored(mailbox, subject="Pushed"))

    def test_idle_sees_mail_announced_with_its_continuation(self):
        """Mail that arrives between two commands (while the listener syncs on another
        connection) is announced by Dovecot right when IDLE starts, in the same packet as
        '+ idling'. That announcement is news, not something to find a minute later."""
        login = self.make_mail_user()
        mailbox = self.make_mailbox(login, push_enabled=True)
        self.sync(mailbox)
        conn = mailbox._mcl_connect()
        try:
            imap_sync.examine(conn, "INBOX")
            for round_ in range(3):
                self.dovecot.append(login, self.corpus.message(subject=f"Between {round_}"))
                self.assertTrue(
                    imap_sync.idle_wait(conn, timeout=10),
                    f"round {round_}: the EXISTS sent with '+ idling' is seen",
                )
        finally:
            mailbox._mcl_disconnect(conn)


@tagged("post_install", "-at_install")
class TestListener(TransactionCase):
    """The mailbox-listen command's listener (its real threads) on committed data: its
    cursors are real database connections, as in production, so what the test sets up is
    committed through a cursor of its own and removed at the end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = get_server()
        cls.corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=15)

    def make_mail_user(self):
        self._seq = getattr(type(self), "_seq", 0) + 1
        type(self)._seq = self._seq
        return self.dovecot.add_user(f"{self._testMethodName}.{self._seq}@{OUR_DOMAIN}", "pw")

    def committed_mailbox(self, login, **values):
        """A push mailbox committed to the database (storing only: nothing created in the
        CRM, so that nothing else needs cleaning), deleted when the test ends."""
        vals = {
            "name": f"Push {login}",
            "server_type": "imap",
            "server": self.dovecot.host,
            "port": self.dovecot.port_imap,
            "connection_security": "none",
            "user": login,
            "password": self.dovecot.users[login],
            "internal_domains": OUR_DOMAIN,
            "connect_timeout": 5,
            "state": "done",
            "crm_link_mode": "auto",
            "push_enabled": True,
            "incoming_unknown_action": policy.NOTHING,
            "outgoing_unknown_action": policy.NOTHING,
            "known_action": policy.NOTHING,
            **values,
        }
        with self.registry.cursor() as cr:
            mailbox = api.Environment(cr, SUPERUSER_ID, {})["fetchmail.server"].create(vals)
            mailbox_id = mailbox.id
        self.addCleanup(self._delete_committed, mailbox_id)
        return mailbox_id

    def _delete_committed(self, mailbox_id):
        with self.registry.cursor() as cr:  # commits on exit
            api.Environment(cr, SUPERUSER_ID, {})["fetchmail.server"].browse(mailbox_id).unlink()

    def start_listener(self, listener_class=MailboxListener, **kwargs):
        listener = listener_class(self.registry, **{"idle_seconds": 30, "stop_poll": 0.5, **kwargs})
        self.addCleanup(listener.shutdown)  # runs before the mailboxes are deleted
        return listener

    def stored_ids(self, mailbox_id):
        """Message-IDs of the mailbox that another worker sees (committed)."""
        with self.registry.cursor() as cr:
            cr.execute("SELECT message_id FROM mailbox_message WHERE mailbox_id = %s", [mailbox_id])
            return {row[0] for row in cr.fetchall()}

    def wait_stored(self, mailbox_id, msgid, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if msgid in self.stored_ids(mailbox_id):
                return True
            time.sleep(0.1)
        return False

    def message(self, index, label):
        msgid = f"<{label}.{index}.{time.time_ns()}@{CLIENT_DOMAIN}>"
        return msgid, self.corpus.message(msgid=msgid, html=False)

    def test_listener_imports_pushed_mail_within_seconds(self):
        """IDLE on a push mailbox, an APPEND, and the mail is stored without any polling."""
        login = self.make_mail_user()
        mailbox_id = self.committed_mailbox(login)
        self.committed_mailbox(self.make_mail_user(), push_enabled=False)  # not watched
        listener = self.start_listener()

        self.assertEqual(listener.refresh(), {mailbox_id})
        msgid, raw = self.message(0, "pushed")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 10))

        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE fetchmail_server SET push_enabled = false WHERE id = %s", [mailbox_id]
            )
        self.assertEqual(listener.refresh(), set(), "push turned off: its watcher stops")

    def test_busy_mailbox_is_synced_once_released(self):
        """The cron (another database connection) holds the mailbox when the mail arrives:
        the listener's sync stands aside and tries again shortly, instead of leaving the mail
        to the next quiet period."""
        login = self.make_mail_user()
        mailbox_id = self.committed_mailbox(login)
        listener = self.start_listener(idle_seconds=600)
        listener.refresh()
        first, raw = self.message(0, "first")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, first, 10), "the listener is up")
        with self.registry.cursor() as cron:
            try:
                deadline = time.monotonic() + 10
                locked = False
                while not locked and time.monotonic() < deadline:  # once the listener's sync ends
                    cron.execute(
                        "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, mailbox_id]
                    )
                    locked = cron.fetchone()[0] or time.sleep(0.05)
                self.assertTrue(locked)
                msgid, raw = self.message(1, "while-busy")
                with self.assertLogs(push._logger, logging.INFO) as logs:
                    self.dovecot.append(login, raw)
                    self.assertFalse(self.wait_stored(mailbox_id, msgid, 2))
                self.assertTrue(any("busy" in line for line in logs.output), logs.output)
            finally:  # a pooled connection would keep its session lock
                cron.execute("SELECT pg_advisory_unlock_all()")
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 10), "synced once released")

    def test_two_listeners_never_watch_one_mailbox(self):
        """Listeners claim their mailboxes in PostgreSQL: a second one (by mistake, or as a
        spare) watches nothing until the first stops; shards split the mailboxes."""
        ids = {self.committed_mailbox(self.make_mail_user()) for _i in range(3)}
        first = self.start_listener()
        spare = self.start_listener()
        self.assertEqual(first.refresh(), ids)
        self.assertEqual(spare.refresh(), set(), "claimed by the first listener")
        first.shutdown()
        self.assertEqual(spare.refresh(), ids, "the spare takes them over")
        spare.shutdown()

        halves = [self.start_listener(shard=(k, 2)) for k in range(2)]
        watched = [half.refresh() for half in halves]
        self.assertEqual(watched[0] | watched[1], ids)
        self.assertFalse(watched[0] & watched[1])
        self.assertEqual(watched[0], {i for i in ids if i % 2 == 0})
        for half in halves:
            half.shutdown()

        capped = self.start_listener(max_mailboxes=2)
        self.assertEqual(len(capped.refresh()), 2)
        self.assertEqual(len(self.start_listener().refresh()), 1, "the rest for another one")

    def test_mail_arriving_at_random_never_waits(self):
        """200 mails appended at random intervals (0 to 2 s, seeded), with bursts while the
        listener syncs: each is stored (committed, seen by another connection) within 10 s of
        its APPEND. A mail arriving during a sync is announced neither to that sync nor, on
        some servers, to the next IDLE: the check after each sync finds it."""
        login = self.make_mail_user()
        mailbox_id = self.committed_mailbox(login)
        listener = self.start_listener(ProbeListener)
        self.assertEqual(listener.refresh(), {mailbox_id})
        rng = random.Random(15)
        appended = {}  # Message-ID → when its APPEND started
        failures = []

        def append(index):
            msgid, raw = self.message(index, "random")
            appended[msgid] = time.monotonic()
            self.dovecot.append(login, raw)

        def appender():
            try:
                index, next_burst = 0, 19
                while index < 200:
                    time.sleep(rng.triangular(0, 2, 0))
                    burst = 1
                    if index >= next_burst:  # this mail starts a sync, more come during it
                        next_burst = index + 20
                        listener.syncing.clear()
                        append(index)
                        index += 1
                        listener.syncing.wait(5)
                        time.sleep(rng.uniform(0, 0.1))
                        burst = rng.randint(3, 6)
                    for _i in range(min(burst, 200 - index)):
                        append(index)
                        index += 1
            except Exception as exc:  # noqa: BLE001 (reported by the test thread)
                failures.append(exc)

        thread = threading.Thread(target=appender)
        with self.assertLogs(push._logger, logging.INFO) as logs:
            thread.start()
            waited = {}
            while thread.is_alive() or len(waited) < len(appended):
                now = time.monotonic()
                stored = self.stored_ids(mailbox_id)
                for msgid, start in list(appended.items()):
                    if msgid not in waited and msgid in stored:
                        waited[msgid] = now - start
                late = [m for m, start in appended.items() if m not in waited and now - start > 10]
                if late:
                    break
                time.sleep(0.1)
            thread.join()
        self.assertFalse(failures)
        self.assertEqual(len(appended), 200)
        self.assertFalse(late, f"not stored 10 s after their APPEND: {late}")
        self.assertLessEqual(max(waited.values()), 10)
        self.assertEqual(self.stored_ids(mailbox_id), set(appended), "each once, none lost")
        again = [line for line in logs.output if "syncing again" in line]
        self.assertTrue(again, "some mail came during a sync, after it had looked")
        _logger.info(
            "200 pushed mails: max %.2f s; %s syncs found mail left behind by the previous one",
            max(waited.values()),
            len(again),
        )


class ProbeListener(MailboxListener):
    """The listener, telling when one of its syncs runs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.syncing = threading.Event()

    def sync_mailbox(self, mailbox_id):
        self.syncing.set()
        try:
            result = super().sync_mailbox(mailbox_id)
        finally:
            self.syncing.clear()
        return result


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
