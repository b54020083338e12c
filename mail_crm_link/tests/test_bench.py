"""The test bench itself, against the real parts: Dovecot, the SMTP listener, the corpus."""

from email import message_from_bytes, policy
from unittest.mock import patch

from odoo.tests import tagged

from .. import compat
from .common import CLIENT_DOMAIN, MailCrmLinkCommon


@tagged("post_install", "-at_install")
class TestBench(MailCrmLinkCommon):
    def test_dovecot_append_and_flags(self):
        login = self.make_mail_user()
        unread = self.dovecot.append(login, self.corpus.message(lang="uk"))
        read = self.dovecot.append(login, self.corpus.message(lang="ru"), seen=True)
        sent = self.dovecot.append(login, self.corpus.message(), folder="Sent")
        self.dovecot.create_folder(login, "Clients/Key accounts")
        self.dovecot.append(login, self.corpus.message(lang="it"), folder="Clients/Key accounts")

        flags = self.dovecot.flags(login)
        self.assertNotIn("\\Seen", flags[unread])
        self.assertIn("\\Seen", flags[read])
        self.assertEqual(sent, 1)
        self.assertEqual(self.dovecot.count(login, "Clients/Key accounts"), 1)

        self.dovecot.set_seen(login, unread)
        self.assertIn("\\Seen", self.dovecot.flags(login)[unread])

    def test_dovecot_uidvalidity_change(self):
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message())
        before = self.dovecot.uidvalidity(login)
        after = self.dovecot.change_uidvalidity(login)
        self.assertNotEqual(before, after)
        self.assertEqual(self.dovecot.uidvalidity(login), after)
        self.assertEqual(self.dovecot.count(login), 1, "the messages stay, only UIDs restart")

    def test_native_connection_test_imap_imaps_pop3(self):
        """Odoo's own "Test & Confirm" reaches the private Dovecot on every protocol."""
        login = self.make_mail_user()
        for protocol, security in (
            ("imap", "none"),
            ("imap", "ssl"),
            ("pop", "none"),
            ("pop", "ssl"),
        ):
            mailbox = self.make_mailbox(
                login, protocol=protocol, security=security, crm_link_mode="off", state="draft"
            )
            mailbox.button_confirm_login()
            self.assertEqual(mailbox.state, "done", f"{protocol}/{security}")

    def test_native_fetchmail_creates_lead(self):
        """A mailbox with CRM linking off is Odoo's fetchmail, unchanged: UNSEEN → crm.lead."""
        login = self.make_mail_user()
        self.dovecot.append(
            login,
            self.corpus.message(
                sender=("Marco Bianchi", f"marco.bianchi@{CLIENT_DOMAIN}"),
                subject="Richiesta di offerta: 12 unità",
                lang="it",
                charset="utf-8",
            ),
        )
        mailbox = self.make_mailbox(
            login,
            crm_link_mode="off",
            state="draft",
            object_id=self.env.ref("crm.model_crm_lead").id,
        )
        mailbox.button_confirm_login()
        # fetch_mail() commits after each mail (19: in a cursor of its own, which test mode
        # makes share this test's transaction); the test transaction is rolled back at the end
        # anyway, so its commits are let through as no-ops here.
        with (
            patch.object(self.env.cr, "commit", lambda: None),
            compat.registry_test_mode(self, self.env.cr),
        ):
            mailbox.fetch_mail()
        lead = self.env["crm.lead"].search([("email_from", "ilike", "marco.bianchi")])
        self.assertEqual(lead.name, "Richiesta di offerta: 12 unità")

    def test_smtp_sink_receives_odoo_mail(self):
        server = self.make_mail_server()
        mail = self.env["mail.mail"].create(
            {
                "subject": "Пропозиція",
                "body_html": "<p>Добрий день</p>",
                "email_from": "sales@mycompany.example",
                "email_to": "olena@client.example",
                "mail_server_id": server.id,
            }
        )
        with self.real_smtp() as sink:
            mail.send(raise_exception=True)
        self.assertEqual(len(sink.messages), 1)
        self.assertEqual(sink.messages[0]["Subject"], "Пропозиція")
        self.assertEqual(sink.messages[0].rcpt_tos, ["olena@client.example"])

    def test_corpus_parses_in_odoo(self):
        """Every corpus kind goes through Odoo's parser with its text decoded."""
        corpus = self.corpus
        cases = {
            "uk/windows-1251": (
                corpus.message(lang="uk", charset="windows-1251", subject="Рахунок на оплату"),
                "Рахунок на оплату",
            ),
            "ru/koi8-r": (
                corpus.message(lang="ru", charset="koi8-r", subject="Счёт на оплату"),
                "Счёт на оплату",
            ),
            "it/utf-8": (
                corpus.message(lang="it", charset="utf-8", subject="Città più bella"),
                "Città più bella",
            ),
        }
        parse = self.env["mail.thread"].message_parse
        for label, (raw, subject) in cases.items():
            parsed = parse(message_from_bytes(raw, policy=policy.SMTP))
            self.assertEqual(parsed["subject"], subject, label)

        with_files = corpus.message(lang="uk", attachments=["Специфікація.pdf"], inline_image=True)
        parsed = parse(message_from_bytes(with_files, policy=policy.SMTP))
        self.assertIn("Специфікація.pdf", [a.fname for a in parsed["attachments"]])

        first = corpus.message(lang="it")
        reply = corpus.reply(first, sender=corpus.person("it", 1))
        self.assertIn(
            message_from_bytes(first)["Message-ID"], message_from_bytes(reply)["In-Reply-To"]
        )
        self.assertEqual(
            message_from_bytes(corpus.auto_reply(to="x@y.z"))["Auto-Submitted"], "auto-replied"
        )
        self.assertEqual(
            message_from_bytes(corpus.bounce("x@y.z")).get_content_type(), "multipart/report"
        )
        self.assertTrue(message_from_bytes(corpus.mailing_list())["List-Id"])
        for kind in ("bad-boundary", "bad-charset", "no-headers", "bad-date"):
            self.assertTrue(corpus.malformed(kind))
