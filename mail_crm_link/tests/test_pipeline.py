"""The inbound pipeline's guarantees: one mail never stops its batch, a mailbox never stops the
others, our own failures say they are ours, work is bounded by bytes, POP3 has an import
window, mail recovered from error is linked. Real Dovecot; the sync's commits are the suite's
savepoints (what real commits and processes show is in test_real_commits)."""

from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mail_crm_link.mailflow import imap_sync
from odoo.addons.mail_crm_link.services import mailbox_sync, message_store
from odoo.addons.mail_crm_link.services.mailbox_sync import LOCK_NAMESPACE

from .common import CLIENT_DOMAIN, MailCrmLinkCommon

SERVICES = "odoo.addons.mail_crm_link.services"


def _with_nul_text(sender):
    """A well-formed mail whose base64 text part decodes to bytes with NUL in them."""
    return (
        f"From: {sender[0]} <{sender[1]}>\r\nTo: sales@mycompany.example\r\n"
        "Subject: Binary junk in the text part\r\nMessage-ID: <nul-text@client.example>\r\n"
        "Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "SGVsbG8AV29ybGQAIQ==\r\n"  # "Hello\0World\0!"
    ).encode()


@tagged("post_install", "-at_install")
class TestOneMailNeverStopsItsBatch(MailCrmLinkCommon):
    def test_nul_in_a_text_part_is_stored_without_it(self):
        login = self.make_mail_user()
        sender = ("Zed", f"zed@{CLIENT_DOMAIN}")
        self.dovecot.append_many(
            login,
            [self.corpus.message(), _with_nul_text(sender), self.corpus.message()],
        )
        mailbox = self.make_mailbox(login, import_window="all")
        result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertEqual(len(self.stored(mailbox)), 3)
        odd = self.stored(mailbox, subject="Binary junk in the text part")
        self.assertEqual(odd.body_text, "HelloWorld!")
        self.assertNotEqual(odd.state, "error")

    def test_styles_that_cover_the_screen_are_not_stored_nor_shown(self):
        """Issue 23, finding 5: the stored body and the chatter entry (inserted by SQL, so
        without ``mail.message``'s own sanitizing) keep no ``position:fixed`` overlay."""
        login = self.make_mail_user()
        client = self.env["res.partner"].create(
            {"name": "Overlay Client", "email": f"overlay@{CLIENT_DOMAIN}"}
        )
        raw = (
            f"From: Overlay Client <{client.email}>\r\nTo: {login}\r\n"
            "Subject: Session expired\r\nMessage-ID: <overlay.1@client.example>\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            '<div style="position:fixed;top:0;left:0;width:100%;height:100%;'
            'z-index:9999;background:white">Your session expired: log in again</div>\r\n'
        ).encode()
        self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login, import_window="all")
        result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        stored = self.stored(mailbox, subject="Session expired")
        self.assertIn("log in again", stored.body_html)
        self.assertNotIn("position", stored.body_html)
        entries = self.env["mail.message"].search([("mcl_message_id", "=", stored.id)])
        self.assertTrue(entries, "the mail shows on the client's card")
        for entry in entries:
            self.assertNotIn("position", entry.body)

    def test_our_failure_on_one_mail_keeps_it_in_error_and_stores_the_others(self):
        login = self.make_mail_user()
        self.dovecot.append_many(
            login, [self.corpus.message(subject=f"Mail {i}") for i in range(4)]
        )
        mailbox = self.make_mailbox(login)
        Store = type(self.env["mailbox.message.store"])
        real = Store._values_from_parsed

        def fails_on_mail_2(self_, mailbox, folder, mail, raw, internal, **kwargs):
            if mail.subject == "Mail 2":
                raise KeyError("a bug of ours")
            return real(self_, mailbox, folder, mail, raw, internal, **kwargs)

        with (
            patch.object(Store, "_values_from_parsed", fails_on_mail_2),
            mute_logger(f"{SERVICES}.message_store"),
        ):
            result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertEqual(len(self.stored(mailbox)), 4)
        broken = self.stored(mailbox, subject="Mail 2")
        self.assertEqual(broken.state, "error")
        self.assertIn("Internal error of mail_crm_link", broken.error_reason)
        self.assertTrue(broken.raw_source, "its source is kept")
        self.assertTrue(broken.dedup_key.startswith("<"), "still found again by Message-ID")
        # once fixed, the retry of the next sync recovers it and links it at once
        self.sync(mailbox)
        self.assertEqual(broken.state, "linked")
        self.assertFalse(broken.raw_source)

    def test_recovered_mail_gets_its_message_id_as_key(self):
        """A mail stored in error under its content hash gets its Message-ID as dedup key once
        it can be read: a later re-import (UIDVALIDITY change) finds it and does not store it
        twice."""
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message(subject="Late reader"))
        mailbox = self.make_mailbox(login)
        Store = type(self.env["mailbox.message.store"])
        real = Store._parse

        def unreadable(self_, raw, date):
            mail = real(self_, raw, date)
            mail.error, mail.message_id = "cannot be read (simulated)", ""
            mail.dedup_key = f"sha256:{mail.content_hash}"
            return mail

        with patch.object(Store, "_parse", unreadable):
            self.sync(mailbox)
        message = self.stored(mailbox)
        self.assertEqual(message.state, "error")
        self.assertTrue(message.dedup_key.startswith("sha256:"))
        self.sync(mailbox)  # the retry reads it
        self.assertEqual(message.state, "linked")
        self.assertTrue(message.dedup_key.startswith("<"))
        self.dovecot.change_uidvalidity(login)
        self.sync(mailbox)
        self.assertEqual(len(self.stored(mailbox)), 1)


@tagged("post_install", "-at_install")
class TestAMailboxNeverStopsTheOthers(MailCrmLinkCommon):
    def test_cron_goes_on_after_a_mailbox_whose_sync_raises(self):
        poisoned_login = self.make_mail_user()
        healthy_logins = [self.make_mail_user(), self.make_mail_user()]
        for login in [poisoned_login, *healthy_logins]:
            self.dovecot.append(login, self.corpus.message())
        poisoned = self.make_mailbox(poisoned_login)
        healthy = [self.make_mailbox(login) for login in healthy_logins]
        real_fetch = imap_sync.fetch_batch

        def fetch(conn, uids, *args, **kwargs):
            if poisoned_login in str(getattr(conn, "_mcl_login", "")):
                raise AttributeError("'Header' object has no attribute 'split'")
            return real_fetch(conn, uids, *args, **kwargs)

        real_connect = imap_sync.connect

        def connect(host, port, security, user, password, **kwargs):
            conn = real_connect(host, port, security, user, password, **kwargs)
            conn._mcl_login = user
            return conn

        self.env.cr.commit()  # pylint: disable=invalid-commit
        with (
            patch.object(imap_sync, "fetch_batch", fetch),
            patch.object(imap_sync, "connect", connect),
            mute_logger(f"{SERVICES}.mailbox_health"),
        ):
            self.env["fetchmail.server"]._cron_sync()
        self.env.invalidate_all()
        for mailbox in healthy:
            self.assertEqual(len(self.stored(mailbox)), 1)
            self.assertFalse(mailbox.last_error)
        self.assertFalse(self.stored(poisoned))
        self.assertIn("internal error of mail_crm_link", poisoned.last_error)
        self.assertIn("not of the mail server", poisoned.last_error)
        # our own error does not back off as if the server were down: next polling interval
        self.assertLessEqual(
            poisoned.next_sync_at,
            datetime.now() + timedelta(minutes=poisoned.poll_interval, seconds=5),
        )

    def test_a_failing_server_backs_off(self):
        mailbox = self.make_mailbox(self.make_mail_user(), password="wrong", poll_interval=5)
        for _attempt in range(3):
            self.sync(mailbox)
        self.assertEqual(mailbox.failure_count, 3)
        self.assertGreater(mailbox.next_sync_at, datetime.now() + timedelta(minutes=35))

    def test_lock_released_after_an_aborted_transaction(self):
        """The sync's transaction is aborted (a failing query): the mailbox lock, held on a
        connection of its own, is released all the same, and the failure is on the mailbox."""
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message())
        mailbox = self.make_mailbox(login)
        Store = type(self.env["mailbox.message.store"])

        def abort(self_, *args, **kwargs):
            self_.env.cr.execute("SELECT 1/0", log_exceptions=False)

        with patch.object(Store, "_store_batch", abort), mute_logger(f"{SERVICES}.mailbox_health"):
            result = self.sync(mailbox)
        self.assertIn("internal error", result["error"])
        with self.registry.cursor() as other_worker:
            other_worker.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, mailbox.id]
            )
            self.assertTrue(other_worker.fetchone()[0], "the lock is free")
            other_worker.execute("SELECT pg_advisory_unlock_all()")
        self.assertEqual(self.sync(mailbox)["new"], 1)


@tagged("post_install", "-at_install")
class TestBoundedWork(MailCrmLinkCommon):
    def test_batches_are_cut_by_bytes(self):
        login = self.make_mail_user()
        big = b"x" * 300_000
        raws = [
            self.corpus.message(
                subject=f"Big {i}", attachments=[("a.bin", big, "application/octet-stream")]
            )
            for i in range(6)
        ]
        raws.insert(
            3,
            self.corpus.message(
                subject="Huge",
                attachments=[("h.bin", b"y" * 1_500_000, "application/octet-stream")],
            ),
        )
        self.dovecot.append_many(login, raws)
        mailbox = self.make_mailbox(login)
        batches = []
        real_fetch = imap_sync.fetch_batch

        def record(conn, uids, *args, **kwargs):
            fetched = real_fetch(conn, uids, *args, **kwargs)
            batches.append(sum(len(raw) for _uid, raw, _date in fetched))
            return fetched

        with (
            patch.object(mailbox_sync, "BATCH_BYTES", 1_000_000),
            patch.object(imap_sync, "fetch_batch", record),
        ):
            self.sync(mailbox)
        self.assertEqual(len(self.stored(mailbox)), 7)
        self.assertGreater(len(batches), 3)
        for size in batches:  # at most the budget, or one mail alone when it is larger
            self.assertTrue(size <= 1_000_000 or size > 1_400_000, batches)

    def test_import_counter_never_above_total(self):
        login = self.make_mail_user()
        self.dovecot.append_many(login, [self.corpus.message() for _i in range(3)])
        mailbox = self.make_mailbox(login)
        self.sync(mailbox, batch_size=2)
        self.assertEqual((mailbox.import_done, mailbox.import_total), (3, 3))
        self.dovecot.append_many(login, [self.corpus.message() for _i in range(2)])
        self.sync(mailbox)
        self.assertLessEqual(mailbox.import_done, mailbox.import_total)


@tagged("post_install", "-at_install")
class TestPop3Window(MailCrmLinkCommon):
    def test_first_pop3_sync_imports_the_window_as_history(self):
        login = self.make_mail_user()
        old_mail = self.corpus.message(
            subject="Old news",
            sender=("Old", f"old@{CLIENT_DOMAIN}"),
            date=datetime.now(timezone.utc) - timedelta(days=400),
        )
        self.dovecot.append_many(
            login,
            [
                old_mail,
                self.corpus.message(
                    subject="Recent",
                    sender=("N", f"n@{CLIENT_DOMAIN}"),
                    date=datetime.now(timezone.utc) - timedelta(days=1),  # not the corpus clock
                ),
            ],
        )
        mailbox = self.make_mailbox(login, protocol="pop", import_days=30)
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(self.stored(mailbox).mapped("subject"), ["Recent"])
        recent = self.stored(mailbox)
        self.assertTrue(recent.history)
        self.assertFalse(recent.activity_id, "history mail gets no Email activity")
        # a second sync never fetches the old mail again; new mail is live
        self.dovecot.append(
            login, self.corpus.message(subject="Live", sender=("N", f"n@{CLIENT_DOMAIN}"))
        )
        self.sync(mailbox)
        live = self.stored(mailbox, subject="Live")
        self.assertFalse(live.history)
        self.assertTrue(live.activity_id)
        self.assertEqual(len(self.stored(mailbox)), 2)
        self.assertEqual(self.dovecot.count(login), 3, "POP3 never deletes unless asked")


class TestStoreCleaning(MailCrmLinkCommon):
    def test_clean_removes_nul_everywhere(self):
        self.assertEqual(
            message_store.clean({"a\x00": ["x\x00y", {"k": "v\x00"}], "n": 3}),
            {"a": ["xy", {"k": "v"}], "n": 3},
        )


@tagged("post_install", "-at_install")
class TestPop3WindowAndDeletion(MailCrmLinkCommon):
    def test_mail_outside_the_window_is_never_deleted(self):
        """POP3 with "delete after import": only what was stored is deleted; mail left out
        of the import window stays on the server, sync after sync."""
        login = self.make_mail_user()
        old = self.corpus.message(
            subject="Old news", date=datetime.now(timezone.utc) - timedelta(days=400)
        )
        recent = self.corpus.message(
            subject="Recent", date=datetime.now(timezone.utc) - timedelta(days=1)
        )  # dated from today, not from the corpus clock (which starts on 2026-11-02)
        self.dovecot.append_many(login, [old, recent])
        mailbox = self.make_mailbox(login, protocol="pop", import_days=30, pop_delete=True)
        for _sync in range(3):
            self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(self.stored(mailbox).mapped("subject"), ["Recent"])
        self.assertEqual(self.dovecot.count(login), 1, "the old mail is still on the server")

    def test_sync_is_for_the_system_only(self):
        mailbox = self.make_mailbox(self.make_mail_user())
        with self.assertRaises(AccessError):
            self.env["mailbox.sync"].with_user(self.user_sales_manager).sync(mailbox)
        with self.assertRaises(AccessError):
            self.env["mailbox.sync"].with_user(self.user_sales_salesman).cron_sync()


@tagged("post_install", "-at_install")
class TestOneMailNeverUnlinksItsBatch(MailCrmLinkCommon):
    def test_a_mail_whose_linking_fails_leaves_the_others_linked(self):
        login = self.make_mail_user()
        self.dovecot.append_many(
            login,
            [
                self.corpus.message(subject=f"Mail {i}", sender=("G", self.contact_client.email))
                for i in range(3)
            ],
        )
        mailbox = self.make_mailbox(login, import_window="all")
        Linker = type(self.env["mailbox.crm.linker"])
        real = Linker._link_one

        def fails_on_mail_1(self_, run, message):
            if message.subject == "Mail 1":
                raise ValueError("a bug of ours in linking")
            return real(self_, run, message)

        with (
            patch.object(Linker, "_link_one", fails_on_mail_1),
            mute_logger(f"{SERVICES}.crm_linker"),
        ):
            self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(self.stored(mailbox, subject="Mail 0").state, "linked")
        self.assertEqual(self.stored(mailbox, subject="Mail 2").state, "linked")
        broken = self.stored(mailbox, subject="Mail 1")
        self.assertEqual(broken.state, "new")
        self.assertIn("a bug of ours in linking", broken.link_note)
