"""Damaged but readable mail reaches the card (issue 25, point 4), through the real Dovecot.

A mail whose MIME structure is broken (a missing closing boundary, bad base64 padding, a
multipart cut before its end) but whose text and files can be read is stored, linked and
shown on the client's card as any mail, marked damaged, with the original kept byte for byte
as a downloadable ``.eml``; what cannot be read at all stays in error.
"""

import base64
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import MailCrmLinkCommon

DAMAGED_KINDS = ("no-close-boundary", "bad-padding", "no-end")
# what such mail said in error before issue 25
FORMER_REASON = "malformed MIME structure, content would be lost: CloseBoundaryNotFound"


def download_url(message):
    """What the form's file field opens: Odoo's own /web/content, as the record's reader."""
    return (
        f"/web/content?model=mailbox.message&id={message.id}&field=raw_source"
        "&filename_field=raw_source_name&download=true"
    )


@tagged("post_install", "-at_install")
class TestDamagedMail(MailCrmLinkCommon):
    def test_damaged_mail_is_stored_linked_and_kept(self):
        login = self.make_mail_user()
        appended = {kind: self.corpus.damaged(kind) for kind in DAMAGED_KINDS}
        for raw in appended.values():
            self.dovecot.append(login, raw)
        self.dovecot.append(login, self.corpus.malformed("no-headers"))
        self.dovecot.append(login, self.corpus.malformed("empty-multipart"))
        mailbox = self.make_mailbox(login)

        result = self.sync(mailbox)

        self.assertFalse(result.get("error"), result)
        damaged = self.stored(mailbox, damaged=True)
        self.assertEqual(len(damaged), 3)
        for kind, raw in appended.items():
            with self.subTest(kind=kind):
                message = damaged.filtered(lambda m, k=kind: m.subject.startswith(f"Damaged {k}"))
                self.assertEqual(message.state, "linked", message.error_reason)
                self.assertFalse(message.error_reason)
                self.assertIn("damaged MIME structure", message.parse_warnings)
                self.assertIn("Here is the offer we spoke about", message.body_text)
                self.assertEqual(message.attachment_ids.mapped("name"), ["offer.pdf"])
                self.assertTrue(message.attachment_ids.raw.startswith(b"%PDF-1.4 offer"))
                # the file came from the broken part: it says it may be incomplete
                self.assertTrue(message.attachment_ids.mcl_damaged)
                self.env.flush_all()  # the files list is an SQL view
                files = self.env["mailbox.message.file"].search([("message_id", "=", message.id)])
                # a row per card, of one file: the kept original (a binary field's
                # attachment) is not a file
                self.assertEqual(files.attachment_id, message.attachment_ids)
                self.assertTrue(all(files.mapped("damaged")))
                self.assertIn(self.contact_client, message.link_ids.partner_id)
                # the original, byte for byte as the mail server holds it, as an .eml file
                self.assertEqual(base64.b64decode(message.raw_source), raw)
                self.assertTrue(message.raw_source_name.endswith(f"-{message.id}.eml"))
                self.assertTrue(message.raw_source_name.startswith(f"Damaged {kind}"))
        # on the client's card, marked
        timeline = (
            self.env["mailbox.timeline"]
            .with_user(self.user_sales_salesman)
            .read_timeline("res.partner", self.contact_client.id)
        )
        shown = {mail["id"]: mail for mail in timeline["mails"]}
        self.assertLessEqual(set(damaged.ids), set(shown))
        self.assertTrue(all(shown[m.id]["damaged"] for m in damaged))
        # what cannot be read at all stays in error, as before
        errors = self.stored(mailbox, state="error")
        self.assertEqual(len(errors), 2)
        self.assertFalse(any(errors.mapped("damaged")))
        self.assertTrue(all(errors.mapped("raw_source")))
        reasons = " ".join(errors.mapped("error_reason"))
        self.assertIn("not an email", reasons)
        self.assertIn("malformed MIME structure, nothing could be read", reasons)
        self.assertEqual(mailbox.count_failed, 2)
        # the list's "Damaged" filter finds them
        self.assertEqual(
            self.env["mailbox.message"].search(
                [("mailbox_id", "=", mailbox.id), ("damaged", "=", True)]
            ),
            damaged,
        )

    def test_retry_recovers_mail_that_was_only_damaged(self):
        """Mail stored in error by the former rule ("content would be lost") is read again by
        the sync's retry and reaches the card, marked damaged, with its file."""
        login = self.make_mail_user()
        raw = self.corpus.damaged("no-close-boundary", subject="Old damaged offer")
        self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login)
        Store = type(self.env["mailbox.message.store"])
        real = Store._parse

        def former_rule(self_, raw_, date):
            mail = real(self_, raw_, date)
            if mail.damaged:
                mail.damaged = False
                mail.error = FORMER_REASON
            return mail

        with patch.object(Store, "_parse", former_rule):
            self.sync(mailbox)
        message = self.stored(mailbox)
        self.assertEqual((message.state, message.damaged), ("error", False))
        self.assertFalse(message.link_ids)
        self.assertFalse(message.attachment_ids)

        self.sync(mailbox)  # the retry of mail in error reads it with today's rule

        self.assertEqual(message.state, "linked")
        self.assertTrue(message.damaged)
        self.assertFalse(message.error_reason)
        self.assertIn(self.contact_client, message.link_ids.partner_id)
        self.assertEqual(message.attachment_ids.mapped("name"), ["offer.pdf"])
        self.assertEqual(base64.b64decode(message.raw_source), raw)


@tagged("post_install", "-at_install")
class TestDamagedDownload(MailCrmLinkCommon, HttpCase):
    """The original of a damaged mail is downloaded through Odoo's /web/content with the
    reader's own rights: the bytes the mail server holds, to whoever may read the mail only."""

    def test_download_is_byte_exact_and_needs_read_access(self):
        login = self.make_mail_user()
        raw = self.corpus.damaged("bad-padding", subject="Offer / final: v2?")
        self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login, owner_id=self.user_sales_manager.id)
        self.sync(mailbox)
        message = self.stored(mailbox)
        self.assertTrue(message.damaged)
        self.assertEqual(message.raw_source_name, f"Offer _ final_ v2-{message.id}.eml")
        self.assertTrue(message.with_user(self.user_sales_salesman).has_access("read"))

        self.authenticate("user_sales_salesman", "user_sales_salesman")
        response = self.url_open(download_url(message))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, raw, "the download is the server's bytes exactly")
        self.assertIn(".eml", response.headers.get("Content-Disposition", ""))

        # a user who cannot read the mail cannot download it: no sales right at all ...
        self.assertFalse(message.with_user(self.user_no_crm).has_access("read"))
        self.authenticate("user_no_crm", "user_no_crm")
        with mute_logger("odoo.http", "odoo.addons.base.models.ir_rule"):
            response = self.url_open(download_url(message))
        self.assertIn(response.status_code, (403, 404))
        self.assertNotIn(b"Here is the offer", response.content)
        self.assertNotIn(raw[:200], response.content)

        # ... or a salesman once its owner has made it private
        message.with_user(self.user_sales_manager).action_toggle_private()
        self.env.cr.flush()
        self.assertFalse(message.with_user(self.user_sales_salesman).has_access("read"))
        self.authenticate("user_sales_salesman", "user_sales_salesman")
        with mute_logger("odoo.http", "odoo.addons.base.models.ir_rule"):
            response = self.url_open(download_url(message))
        self.assertIn(response.status_code, (403, 404))
        self.assertNotIn(raw[:200], response.content)
