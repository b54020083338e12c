"""The real-world corpus (``realmail/README.md``) through a real Dovecot into the store: every
mail is stored, linked, ignored, new, or in error with its raw source; none is lost and no mail
stops the sync."""

import base64
import collections
import imaplib
import logging

from odoo.tests import tagged

from ..mailflow import parse
from . import realmail_corpus
from .common import MailCrmLinkCommon
from .test_parse_total import BASE, mime

_logger = logging.getLogger(__name__)

# Mails Dovecot may refuse to APPEND (none so far); a refusal elsewhere fails the test.
ACCEPTED_REFUSALS = set()
MAX_SYNC_ROUNDS = 20


@tagged("post_install", "-at_install")
class TestRealWorldMailImport(MailCrmLinkCommon):
    def append_all(self, login, mails):
        """APPEND every mail over one connection; returns the refused ones by file name."""
        refused = {}
        with self.dovecot.imap(login) as conn:
            for source, raw in mails:
                try:
                    typ, data = conn.append("INBOX", None, None, raw)
                except imaplib.IMAP4.error as error:
                    typ, data = "BAD", [str(error).encode()]
                if typ != "OK":
                    refused[source.file_name] = b" ".join(d or b"" for d in data).decode()
        return refused

    def served(self, login):
        """The mails as Dovecot serves them: the bytes the sync parses (line ends may differ
        from what was appended)."""
        with self.dovecot.imap(login) as conn:
            conn.select("INBOX", readonly=True)
            _typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [item[1] for item in data if isinstance(item, tuple)]

    def test_every_real_mail_is_stored_and_none_lost(self):
        mails = realmail_corpus.load()  # fails with the rebuild command when missing
        login = self.make_mail_user()
        refused = self.append_all(login, mails)
        self.assertLessEqual(set(refused), ACCEPTED_REFUSALS, f"Dovecot refused: {refused}")
        served = self.served(login)
        self.assertEqual(len(served), len(mails) - len(refused))
        expected = {parse.parse(raw).dedup_key for raw in served}
        mailbox = self.make_mailbox(login, import_window="all")

        results = []
        for _round in range(MAX_SYNC_ROUNDS):
            result = self.sync(mailbox)
            results.append(result)
            self.assertNotIn("error", result, f"the sync failed: {result}")
            self.assertNotIn("busy", result)
            if not result.get("partial"):
                break
        self.assertFalse(results[-1].get("partial"), "the sync ends")

        stored = self.stored(mailbox)
        keys = collections.Counter(stored.mapped("dedup_key"))
        self.assertEqual(set(keys), expected, "every distinct mail stored, nothing else")
        self.assertEqual(max(keys.values()), 1, "none stored twice")
        states = collections.Counter(stored.mapped("state"))
        self.assertLessEqual(set(states), {"linked", "ignored", "new", "error"})
        errors = stored.filtered(lambda m: m.state == "error")
        self.assertTrue(all(errors.mapped("raw_source")), "a mail in error keeps its source")
        self.assertTrue(all(errors.mapped("error_reason")), "a mail in error says why")
        by_key = collections.defaultdict(list)
        for raw in served:
            by_key[parse.parse(raw).dedup_key].append(raw)
        for message in errors:
            raw = base64.b64decode(message.raw_source)
            self.assertIn(raw, by_key[message.dedup_key], "the source is kept byte-exact")
            # a malformed mail shows what could be read of it, not only that it failed
            mail = parse.parse(raw)
            self.assertEqual(
                (message.subject or "", message.sender or ""),
                (mail.subject, mail.sender),
                f"{message.error_reason}",
            )
        # in error because the mail is malformed, never because the store failed on it
        malformed = {k for k, raws in by_key.items() if parse.parse(raws[0]).error}
        self.assertEqual(
            set(errors.mapped("dedup_key")),
            malformed,
            "store failures: "
            + "; ".join(
                errors.filtered(lambda m: m.dedup_key not in malformed).mapped("error_reason")
            ),
        )
        # damaged but readable (issue 25): stored as mail, not in error, the source kept
        damaged = stored.filtered("damaged")
        self.assertEqual(
            set(damaged.mapped("dedup_key")),
            {k for k, raws in by_key.items() if parse.parse(raws[0]).damaged},
        )
        # 43 files parse damaged; Dovecot serves 38 distinct mails of them (some share a
        # Message-ID): all reach the CRM as mail
        self.assertGreaterEqual(len(damaged), 35, "the corpus's damaged mails reach the CRM")
        self.assertNotIn("error", damaged.mapped("state"))
        for message in damaged:
            raw = base64.b64decode(message.raw_source)
            self.assertIn(raw, by_key[message.dedup_key], "the source is kept byte-exact")
        self.assertFalse(mailbox.last_error, "the mailbox shows no sync error")
        _logger.info(
            "Real-world corpus: %s mails, %s refused by Dovecot, %s distinct stored: %s, "
            "%s damaged",
            len(mails),
            len(refused),
            len(stored),
            dict(states),
            len(damaged),
        )

    def test_mails_of_issue_11_do_not_block_the_sync(self):
        """The three mails that stored nothing and blocked the mailbox for good: a raw 8-bit
        file name, nested comments in an address list, NUL in a base64 text part."""
        login = self.make_mail_user()
        head = [b"From: Anna <anna@client.example>", b"To: sales@mycompany.example"]
        date = b"Date: Mon, 2 Nov 2026 10:00:00 +0000"
        mails = {
            "8-bit file name": mime(
                [*head, b"Subject: 8-bit name", date, b"Message-ID: <i11-1@client.example>"]
                + [b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="XX"'],
                b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
                b"Content-Disposition: attachment; filename=ci\xc3\xable.txt\r\n\r\n"
                b"content\r\n--XX--\r\n",
            ),
            "nested comments": mime(
                [head[0], b"To: " + b"(" * 5000 + b")" * 5000 + b" <sales@mycompany.example>"]
                + [b"Subject: nested", date, b"Message-ID: <i11-2@client.example>"],
                b"hello\r\n",
            ),
            "NUL in base64": mime(
                [*head, b"Subject: NUL", date, b"Message-ID: <i11-3@client.example>"]
                + [
                    b"Content-Type: text/plain; charset=utf-8",
                    b"Content-Transfer-Encoding: base64",
                ],
                base64.b64encode(b"Hello\x00 world\r\n") + b"\r\n",
            ),
            "raw NUL": mime([*head, b"Subject: raw NUL", date], b"raw\x00 NUL\r\n"),
            "plain": mime(BASE, b"a plain mail\r\n"),
        }
        for raw in mails.values():
            self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login)

        result = self.sync(mailbox)

        self.assertNotIn("error", result)
        self.assertFalse(mailbox.last_error)
        stored = self.stored(mailbox)
        self.assertEqual(
            sorted(stored.mapped("subject")), ["8-bit name", "NUL", "nested", "quote", "raw NUL"]
        )
        self.assertFalse(stored.filtered(lambda m: m.state == "error").mapped("error_reason"))
        by_subject = {m.subject: m for m in stored}
        self.assertEqual(by_subject["NUL"].body_text, "Hello world\r\n")
        self.assertEqual(by_subject["8-bit name"].attachment_ids.mapped("name"), ["ciële.txt"])
        self.assertEqual(by_subject["nested"].sender, "anna@client.example")
