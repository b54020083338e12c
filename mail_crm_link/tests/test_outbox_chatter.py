"""Mail written in the CRM shows its delivery state on its chatter entries as Odoo's own
mail does (issue 12): one email notification per recipient contact, ready → sent, or an
exception with our sentence; Odoo's Resend dialog sends it again through the outbox, once,
and its Ignore sends nothing. Against the real SMTP listener, as test_outbox.py."""

import unittest

from odoo.exceptions import AccessError, UserError

from odoo.addons.mail_crm_link import compat
from odoo.addons.mail_crm_link.mailflow import outbox

from .common import CLIENT_DOMAIN
from .dovecot import free_port
from .test_outbox import OutboxCase

NO_RESEND_DIALOG = (
    "Odoo 19 has no Resend dialog (mail.resend.message is gone: the envelope opens a popover; "
    "a failed mail is retried from the card's Emails list), see compat.RESEND_DIALOG"
)


class TestChatterSendState(OutboxCase):
    def entries(self, mail):
        return self.env["mail.message"].search([("mcl_message_id", "=", mail.id)])

    def states(self, mail, partner=None):
        """{(entry's model, partner): status} of the mail's delivery notifications."""
        partner = partner or self.contact_client
        notifications = self.entries(mail).notification_ids.filtered(
            lambda n: n.res_partner_id == partner and n.notification_type == "email"
        )
        return {n.mail_message_id.model: n.notification_status for n in notifications}

    def web_client_states(self, mail, user):
        """What the web client receives for the entry on the contact's card, as ``user``."""
        entry = self.entries(mail).filtered(lambda e: e.model == "res.partner")[:1]
        entry = entry.with_user(user)
        result = compat.web_client_data(entry)
        return {n["notification_status"] for n in result.get("mail.notification", [])}

    def resend_dialog(self, mail, user=None):
        """Odoo's "Sending Failures" dialog, opened as the red envelope opens it."""
        entry = self.entries(mail)[:1]
        return (
            self.env["mail.resend.message"]
            .with_user(user or self.user_sales_salesman)
            .with_context(mail_message_to_resend=entry.id)
            .create({})
        )

    def test_queued_then_sent(self):
        mail = self.write_to(self.contact_client)
        entries = self.entries(mail)
        self.assertIn("res.partner", entries.mapped("model"))
        states = self.states(mail)
        self.assertEqual(set(states), set(entries.mapped("model")))  # on each entry
        self.assertEqual(set(states.values()), {"ready"})
        notifications = entries.notification_ids.filtered(lambda n: n.notification_type == "email")
        self.assertTrue(all(n.is_read for n in notifications))  # no news for the contact
        # its writer is the author: of the entries, and of the notifications of the entry on
        # the mail's main record (one failure counts once in the messaging menu)
        writer = self.user_sales_salesman.partner_id
        self.assertEqual(entries.author_id, writer)
        self.assertEqual(len(notifications.filtered(lambda n: n.author_id == writer)), 1)
        self.assertEqual(self.web_client_states(mail, self.user_sales_salesman), {"ready"})

        self.assertEqual(len(self.send_queued()), 1)
        self.assertEqual(set(self.states(mail).values()), {"sent"})
        self.assertEqual(self.web_client_states(mail, self.user_sales_salesman), {"sent"})

    def test_refused_recipient_is_an_exception_with_our_sentence(self):
        mail = self.write_to(self.contact_client)
        self.assertFalse(self.send_queued(refuse=[self.contact_client.email]))
        self.assertEqual(mail.send_state, "failed")
        notifications = self.entries(mail).notification_ids.filtered(
            lambda n: n.res_partner_id == self.contact_client
        )
        self.assertEqual(set(notifications.mapped("notification_status")), {"exception"})
        self.assertEqual(set(notifications.mapped("failure_type")), {"mail_email_invalid"})
        self.assertEqual(set(notifications.mapped("failure_reason")), {mail.send_error})
        self.assertIn("refused the recipient", notifications[0].format_failure_reason())
        self.assertEqual(
            self.web_client_states(mail, self.user_sales_salesman), {"exception"}
        )  # the red envelope
        # the writer's messaging menu lists it once (Odoo's query of its failures)
        failures = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("author_id", "=", self.user_sales_salesman.partner_id.id),
                    ("notification_status", "in", ("bounce", "exception")),
                    ("mail_message_id.mcl_message_id", "=", mail.id),
                ]
            )
        )
        self.assertEqual(len(failures), 1)
        # the card of the main record says "delivery error" to its writer, as Odoo's mail
        record = self.env[failures.mail_message_id.model].browse(failures.mail_message_id.res_id)
        self.assertTrue(record.with_user(self.user_sales_salesman).message_has_error)

    def test_refused_for_one_recipient_while_sent_to_the_others(self):
        luca = self.env["res.partner"].create(
            {"name": "Luca Romano", "email": f"luca.romano@{CLIENT_DOMAIN}"}
        )
        mail = self.write_to(self.contact_client, email_cc=luca.email)
        self.send_queued(refuse=[luca.email])
        self.assertEqual(mail.send_state, "sent")
        self.assertEqual(set(self.states(mail).values()), {"sent"})
        self.assertEqual(set(self.states(mail, luca).values()), {"exception"})
        if compat.RESEND_DIALOG:
            # it left for Giulia: Resend would send it to her twice, so it is refused
            dialog = self.resend_dialog(mail)
            self.assertFalse(dialog.partner_ids.filtered("resend"))
            dialog.partner_ids.resend = True
            with self.assertRaisesRegex(UserError, "twice"):
                dialog.resend_mail_action()
        self.assertFalse(self.send_queued())

    def test_temporary_failure_stays_ready_until_it_fails(self):
        self.mail_server.smtp_port = free_port()  # nothing listens there
        mail = self.write_to(self.contact_client)
        self.send_queued()
        self.assertEqual(mail.send_state, "queued")  # tried again later: not failed yet
        self.assertEqual(set(self.states(mail).values()), {"ready"})
        for _attempt in range(2):
            mail.sudo().send_after = False
            self.send_queued()
        self.assertEqual(mail.send_state, "failed")
        notifications = self.entries(mail).notification_ids
        self.assertEqual(set(notifications.mapped("failure_type")), {"mail_smtp"})
        self.assertIn("cannot be reached", notifications[0].format_failure_reason())

    def test_a_mail_that_may_have_been_sent_says_so(self):
        mail = self.write_to(self.contact_client)
        self.env["mailbox.outbox"]._claim()
        self.env["mailbox.outbox"]._recover_stale(minutes=0)
        notifications = self.entries(mail).notification_ids
        self.assertEqual(set(notifications.mapped("notification_status")), {"exception"})
        self.assertEqual(set(notifications.mapped("failure_type")), {"unknown"})
        self.assertIn("it may have been sent", notifications[0].format_failure_reason())

    @unittest.skipUnless(compat.RESEND_DIALOG, NO_RESEND_DIALOG)
    def test_resend_from_odoo_dialog_sends_once_through_the_outbox(self):
        mail = self.write_to(self.contact_client)
        self.send_queued(refuse=[self.contact_client.email])
        self.assertEqual(mail.send_state, "failed")
        queued_by_odoo = self.env["mail.mail"].sudo().search_count([])
        dialog = self.resend_dialog(mail)
        self.assertTrue(dialog.partner_readonly)  # the mail leaves as written
        self.assertIn("refused the recipient", dialog.partner_ids.message)
        with self.assertRaises(AccessError):  # who may: as Retry (not the writer)
            self.resend_dialog(mail, self.user_sales_leads).resend_mail_action()
        dialog.resend_mail_action()
        self.assertEqual(mail.send_state, "queued")
        self.assertEqual(set(self.states(mail).values()), {"ready"})
        self.assertEqual(self.env["mail.mail"].sudo().search_count([]), queued_by_odoo)
        sent = self.send_queued()
        self.assertEqual([str(m["Message-ID"]) for m in sent], [mail.message_id])  # once
        self.assertEqual(mail.send_state, "sent")
        self.assertEqual(set(self.states(mail).values()), {"sent"})
        self.assertEqual(self.send_queued(), [])

    @unittest.skipUnless(compat.RESEND_DIALOG, NO_RESEND_DIALOG)
    def test_resend_is_all_recipients_or_none(self):
        luca = self.env["res.partner"].create(
            {"name": "Luca Romano", "email": f"luca.romano@{CLIENT_DOMAIN}"}
        )
        mail = self.write_to(self.contact_client, email_cc=luca.email)
        self.send_queued(refuse=[self.contact_client.email, luca.email])
        self.assertEqual(mail.send_state, "failed")
        dialog = self.resend_dialog(mail)
        dialog.partner_ids.filtered(lambda p: p.partner_id == luca).resend = False
        with self.assertRaisesRegex(UserError, "all its recipients"):
            dialog.resend_mail_action()
        with self.assertRaisesRegex(UserError, "all its recipients"):
            dialog.partner_ids.action_resend()  # Odoo's per-recipient resend, the same
        self.assertEqual(mail.send_state, "failed")

    @unittest.skipUnless(compat.RESEND_DIALOG, NO_RESEND_DIALOG)
    def test_ignore_sends_nothing(self):
        mail = self.write_to(self.contact_client)
        self.send_queued(refuse=[self.contact_client.email])
        self.resend_dialog(mail).cancel_mail_action()
        self.assertEqual(set(self.states(mail).values()), {"canceled"})  # on every entry
        self.assertFalse(self.send_queued())
        self.assertEqual(mail.send_state, "failed")  # still in the card's Emails list

    def test_only_who_may_read_the_mail_sees_its_state(self):
        self.mailbox.owner_id = self.user_sales_salesman
        mail = self.write_to(self.contact_client)
        self.send_queued(refuse=[self.contact_client.email])
        mail.with_user(self.user_sales_salesman).action_toggle_private()
        other = self.user_sales_leads
        self.env.flush_all()  # the request that made it private ends here
        self.assertFalse(
            self.env["mail.message"].with_user(other).search([("mcl_message_id", "=", mail.id)])
        )
        # the card's chatter as the web client fetches it: without the mail, so without its
        # state; its writer still sees both
        on_card = [("model", "=", "res.partner"), ("res_id", "=", self.contact_client.id)]
        for user, shown in ((other, False), (self.user_sales_salesman, True)):
            fetched = self.env["mail.message"].with_user(user)._message_fetch(on_card)
            self.assertEqual(bool(fetched["messages"] & self.entries(mail)), shown)
        if compat.RESEND_DIALOG:
            with self.assertRaises(AccessError):
                self.resend_dialog(mail, other)
            with self.assertRaises(AccessError):
                self.resend_dialog(mail).with_user(other).resend_mail_action()
        self.assertEqual(self.web_client_states(mail, self.user_sales_salesman), {"exception"})


class TestNotificationStates(unittest.TestCase):
    """The pure decision (mailflow.outbox.notification_states)."""

    def test_states(self):
        giulia, luca = "giulia@x.example", "luca@x.example"
        states = outbox.notification_states
        self.assertEqual(states([giulia], "queued"), {giulia: ("ready", False)})
        self.assertEqual(states([giulia], "sending"), {giulia: ("ready", False)})
        self.assertEqual(
            states([giulia, luca], "sent", refused=["Luca@X.example"]),
            {giulia: ("sent", False), luca: ("exception", "mail_email_invalid")},
        )
        refused = outbox.refused_recipients({"Giulia@x.example": (550, "unknown")})
        self.assertEqual(
            states([giulia, luca], "failed", refused),
            {giulia: ("exception", "mail_email_invalid"), luca: ("exception", "unknown")},
        )
        unreachable = outbox.Failure(outbox.UNREACHABLE, True)
        self.assertEqual(
            states([giulia], "failed", unreachable), {giulia: ("exception", "mail_smtp")}
        )
        self.assertEqual(outbox.failure_type(outbox.SENDER), "mail_from_invalid")
        self.assertEqual(outbox.failure_type(outbox.UNCERTAIN), "unknown")
        self.assertEqual(outbox.failure_type("stale"), "unknown")
