"""Mailbox sync against the real Dovecot: nothing lost, nothing duplicated, nothing marked."""

import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..cli.mailbox_listen import MailboxListener
from ..mailflow import imap_sync
from ..services.mailbox_sync import LOCK_NAMESPACE
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon


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

        def fetch_then_die(conn, uids):
            calls.append(uids)
            if len(calls) == 3:
                raise ConnectionResetError("connection lost in the middle of a fetch")
            return real_fetch(conn, uids)

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
        real_hook = Linker.link_safely
        batches = []

        def hook_then_die(self_, records, **kwargs):
            batches.append(records)
            if len(batches) == 2:
                raise OSError("worker killed")
            return real_hook(self_, records, **kwargs)

        with patch.object(Linker, "link_safely", hook_then_die):
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
        self.assertEqual(len(ok), 3)
        self.assertIn("unknown charset", " ".join(filter(None, ok.mapped("parse_warnings"))))
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
        mailbox.action_sync_now()
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
        self.assertFalse(
            self.env["fetchmail.server"]
            ._fields["password"]
            .is_accessible(self.env(user=self.user_sales_manager))
        )
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


@tagged("post_install", "-at_install")
class TestListener(MailCrmLinkCommon):
    def test_listener_imports_pushed_mail_within_seconds(self):
        """The mailbox-listen command's listener: IDLE on a push mailbox, an APPEND, and the
        mail is stored without any polling."""
        login = self.make_mail_user()
        mailbox = self.make_mailbox(login, push_enabled=True)
        self.make_mailbox(self.make_mail_user())  # push off: not watched
        # a savepoint inside the test's transaction (see MailCrmLinkCommon.setUp)
        self.env.cr.commit()  # pylint: disable=invalid-commit
        # the listener's cursors share this test's transaction
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        listener = MailboxListener(self.registry, idle_seconds=1)
        self.addCleanup(listener.shutdown)

        self.assertEqual(listener.refresh(), {mailbox.id})
        self.dovecot.append(login, self.corpus.message(subject="Pushed by IDLE"))
        deadline = time.monotonic() + 30
        pushed = False
        while time.monotonic() < deadline and not pushed:
            time.sleep(0.2)
            # one connection serves the test and the listener: take turns as Odoo's own
            # test cursors do
            with self.registry.test_lock:
                self.env.invalidate_all()
                pushed = bool(self.stored(mailbox, subject="Pushed by IDLE"))
        self.assertTrue(pushed)

        with self.registry.test_lock:
            mailbox.push_enabled = False
            self.env.flush_all()
        self.assertEqual(listener.refresh(), set(), "push turned off: its watcher stops")
        listener.shutdown()


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
