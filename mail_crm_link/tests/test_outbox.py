"""The outbox (issue 12): mail written in the CRM is stored and queued in the request, sent
after the commit through a real SMTP listener, never twice, and every failure is a sentence
on the mail. Single-worker logic runs in the test's transaction (commits emulated); the
claim, the retried request and the crash use real commits (see test_outbox_commits.py)."""

import base64
import smtplib
import unittest

from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.mail_crm_link.mailflow import outbox
from odoo.addons.mail_crm_link.services.outbox import _Connections

from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon
from .dovecot import free_port
from .smtp_sink import SmtpSink


class OutboxCase(MailCrmLinkCommon):
    def setUp(self):
        super().setUp()
        self.mail_server = self.make_mail_server()
        self.mailbox = self.make_mailbox(
            email_address=f"sales@{OUR_DOMAIN}", mail_server_id=self.mail_server.id
        )
        self.sync(self.mailbox)  # finds the folders

    def write_to(self, record, user=None, **values):
        user = user or self.user_sales_salesman
        Compose = (
            self.env["mailbox.compose"]
            .with_user(user)
            .with_context(default_res_model=record._name, default_res_id=record.id)
        )
        vals = Compose.default_get(list(Compose._fields))
        vals.update({"subject": "Offerta", "body": "<p>Buongiorno</p>", **values})
        composer = Compose.create(vals)
        composer.action_send()
        return self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("send_state", "!=", False)], limit=1
        )


class TestOutbox(OutboxCase):
    def test_queued_in_the_request_sent_once_after(self):
        with self.real_smtp() as sink:
            mail = self.write_to(self.contact_client)
            self.assertFalse(sink.messages)  # no SMTP inside the request
        self.assertEqual(mail.send_state, "queued")
        self.assertEqual(mail.send_user_id, self.user_sales_salesman)
        self.assertIn(self.contact_client, mail.link_ids.partner_id)  # on the card at once
        self.assertEqual(self.contact_client.mcl_message_count, 1)
        sent = self.send_queued()
        self.assertEqual([str(m["Message-ID"]) for m in sent], [mail.message_id])
        self.assertEqual((mail.send_state, mail.send_attempts), ("sent", 1))
        self.assertTrue(mail.sent_at)
        self.assertFalse(mail.sudo().outgoing_raw)  # saved in Sent: the copy is dropped
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 1)
        # the hook and the cron both run: still one mail, one copy in Sent
        self.assertEqual(self.send_queued(), [])
        self.env["mailbox.outbox"]._append_pending()
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 1)

    def test_no_outgoing_server_is_a_sentence_before_queuing(self):
        self.mailbox.mail_server_id = False
        self.env["ir.mail_server"].search([]).unlink()
        with self.assertRaisesRegex(UserError, "has no outgoing mail server"):
            self.write_to(self.contact_client)
        self.assertFalse(self.stored(self.mailbox, direction="outgoing"))
        wizard = (
            self.env["mailbox.mass.compose"]
            .with_user(self.user_sales_salesman)
            .with_context(active_model="res.partner", active_ids=self.contact_client.ids)
            .create({"template_id": self._template().id, "mailbox_id": self.mailbox.id})
        )
        with self.assertRaisesRegex(UserError, "has no outgoing mail server"):
            wizard.action_send()
        self.assertFalse(self.send_queued())

    def test_server_removed_after_queuing(self):
        mail = self.write_to(self.contact_client)
        self.mailbox.mail_server_id = False
        self.env["ir.mail_server"].search([]).unlink()
        self.assertFalse(self.send_queued())
        self.assertEqual(mail.send_state, "failed")
        self.assertIn("has no outgoing mail server", mail.send_error)

    def test_server_archived_after_queuing_is_said_as_odoo_says_it(self):
        """Odoo refuses to connect through an archived server (a UserError, its own
        sentence): that is what the mail says, not "an internal error of mail_crm_link"."""
        mail = self.write_to(self.contact_client)
        self.mail_server.active = False
        self.assertFalse(self.send_queued())
        self.assertEqual(mail.send_state, "failed")
        self.assertIn("archived", mail.send_error)
        self.assertNotIn("internal error", mail.send_error)

    def test_connection_refused_is_tried_again_then_failed(self):
        closed = free_port()  # nothing listens there
        self.mail_server.smtp_port = closed
        mail = self.write_to(self.contact_client)
        self.send_queued()
        self.assertEqual(mail.send_state, "queued")  # temporary: tried again later
        self.assertIn("Attempt 1 of 3 failed", mail.send_error)
        self.assertIn("cannot be reached", mail.send_error)
        self.assertTrue(mail.send_after)
        self.assertFalse(self.send_queued())  # not due yet
        for _attempt in range(2):
            mail.sudo().send_after = False  # as if the wait were over
            self.send_queued()
        self.assertEqual((mail.send_state, mail.send_attempts), ("failed", 3))
        self.assertIn("Test SMTP sink cannot be reached", mail.send_error)
        self.assertEqual(
            self.contact_client.with_user(self.user_sales_salesman).mcl_unsent_count, 1
        )
        action = self.contact_client.with_user(
            self.user_sales_salesman
        ).action_mcl_unsent_messages()
        self.assertEqual(self.env["mailbox.message"].search(action["domain"]), mail)
        self.assertIn("Every mail written from this card has left", action["help"])
        # fixed: Retry (by its writer) sends it, once
        self.mail_server.smtp_port = self.smtp_sink.port
        mail.with_user(self.user_sales_salesman).action_retry_send()
        self.assertEqual(mail.send_state, "queued")
        self.assertEqual(len(self.send_queued()), 1)
        self.assertEqual(mail.send_state, "sent")
        self.assertFalse(mail.send_error)

    def test_login_refused(self):
        strict = SmtpSink(refuse_login=True).start()
        self.addCleanup(strict.stop)
        self.mail_server.write(
            {"smtp_port": strict.port, "smtp_user": "sales", "smtp_pass": "wrong"}
        )
        mail = self.write_to(self.contact_client)
        self.send_queued()
        self.assertEqual(mail.send_state, "failed", mail.send_error)  # permanent: a person fixes it
        self.assertIn("refused the login", mail.send_error)
        self.assertIn("535", mail.send_error)
        self.assertFalse(strict.messages)

    def test_recipient_refused(self):
        mail = self.write_to(self.contact_client)
        self.assertFalse(self.send_queued(refuse=[self.contact_client.email]))
        self.assertEqual(mail.send_state, "failed")
        self.assertIn(f"refused the recipient {self.contact_client.email}", mail.send_error)
        self.assertIn("550", mail.send_error)
        # refused for one recipient only: sent to the others, and said so
        other = self.write_to(self.contact_client, email_cc=f"marco.bianchi@{CLIENT_DOMAIN}")
        self.assertEqual(other.send_state, "queued")
        sent = self.send_queued(refuse=[f"marco.bianchi@{CLIENT_DOMAIN}"])
        self.assertEqual(sent[0].rcpt_tos, [self.contact_client.email])
        self.assertEqual(other.send_state, "sent")
        self.assertIn(f"refused marco.bianchi@{CLIENT_DOMAIN}", other.send_error)

    def test_retry_is_checked_on_the_server(self):
        mail = self.write_to(self.contact_client)
        self.send_queued(refuse=[self.contact_client.email])
        self.assertEqual(mail.send_state, "failed")
        with self.assertRaises(AccessError):  # not the writer, not a manager
            mail.with_user(self.user_sales_leads).action_retry_send()
        mail.with_user(self.user_sales_manager).action_retry_send()
        self.assertEqual(len(self.send_queued()), 1)
        with self.assertRaisesRegex(UserError, "Only mail that failed"):  # sent: never again
            mail.with_user(self.user_sales_manager).action_retry_send()
        self.assertFalse(self.send_queued())

    def test_a_dead_sender_is_never_resent_silently(self):
        """A worker that stops between the claim and the bookkeeping leaves the mail
        "sending": the cron says it may have been sent and waits for a person. (The real
        kill -9 is in test_outbox_commits.)"""
        mail = self.write_to(self.contact_client)
        Outbox = self.env["mailbox.outbox"]
        claimed = Outbox._claim()
        self.assertEqual(claimed[0], mail.id)
        self.assertEqual(mail.send_state, "sending")
        self.assertFalse(Outbox._recover_stale())  # recent: its worker may be alive
        self.assertEqual(Outbox._recover_stale(minutes=0), mail)
        self.assertEqual(mail.send_state, "failed")
        self.assertIn("it may have been sent", mail.send_error)
        self.assertFalse(self.send_queued())
        # the user checked: Retry sends it
        mail.with_user(self.user_sales_salesman).action_retry_send()
        self.assertEqual(len(self.send_queued()), 1)

    def test_connection_cut_after_the_whole_mail_is_never_resent(self):
        """The server received the whole mail and the connection broke before its answer
        (a network cut, a reply that never came): the server may have taken it, so the mail
        is failed with that reason and waits for a person; it never leaves again by itself."""
        mail = self.write_to(self.contact_client)
        with self.real_smtp() as sink:
            sink.drop = True
            self.env["mailbox.outbox"]._send_queued()
            self.assertEqual(len(sink.messages), 1)  # the server has it
        self.assertEqual(mail.send_state, "failed", mail.send_error)
        self.assertIn("it may have been sent", mail.send_error)
        mail.sudo().send_after = False  # however long one waits
        self.env["mailbox.outbox"]._recover_stale(minutes=0)
        self.assertEqual(self.send_queued(), [])  # never a second copy by itself
        self.assertEqual(mail.send_state, "failed")

    def test_sent_folder_setting(self):
        Mailbox = self.env["fetchmail.server"]
        for host, expected in (
            ("imap.gmail.com", False),
            ("outlook.office365.com", False),
            ("IMAP.GMAIL.COM", False),
            ("mail.mycompany.example", True),
        ):
            with self.subTest(host=host):
                mailbox = Mailbox.create({"name": host, "server": host, "server_type": "imap"})
                self.assertEqual(mailbox.save_sent, expected)
        self.assertIn("Gmail", Mailbox._fields["save_sent"].help)
        self.mailbox.save_sent = False
        mail = self.write_to(self.contact_client)
        self.assertEqual(len(self.send_queued()), 1)
        self.assertEqual((mail.send_state, mail.append_state), ("sent", False))
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 0)

    def test_sent_folder_copy_is_made_once(self):
        """A worker that stopped after the APPEND and before recording it: the next pass
        finds the mail in Sent by its Message-ID and does not add it again."""
        mail = self.write_to(self.contact_client)
        (sent,) = self.send_queued()
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 1)
        mail.sudo().write({"append_state": "todo", "outgoing_raw": base64.b64encode(sent.raw)})
        self.env["mailbox.outbox"]._append(mail.sudo(), _Connections(self.env))
        self.assertEqual(mail.append_state, "done")
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 1)

    def _template(self):
        return self.env["mail.template"].create(
            {
                "name": "Offer",
                "mcl_crm": True,
                "mcl_sharing": "all",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "subject": "Offer for {{ object.name }}",
                "body_html": '<p>Dear <t t-out="object.name"/>,</p>',
            }
        )


class TestMassSending(OutboxCase):
    def test_offered_on_contacts_and_leads_lists(self):
        """The mass sending is in the Actions menu of contacts and of leads / deals, for a
        salesman as well; not for users without sales rights (the group is given by
        hooks.py on both series)."""
        for model, xmlid in (
            ("res.partner", "mail_crm_link.mailbox_mass_compose_action_partner"),
            ("crm.lead", "mail_crm_link.mailbox_mass_compose_action_lead"),
        ):
            for user, shown in ((self.user_sales_salesman, True), (self.user_no_crm, False)):
                bindings = (
                    self.env["ir.actions.actions"].with_user(user).get_bindings(model)["action"]
                )
                ids = [b["id"] for b in bindings]
                self.assertEqual(self.env.ref(xmlid).id in ids, shown, (model, user.login))

    def test_two_hundred_contacts_three_refused(self):
        """One independent unit per recipient: 3 addresses refused by the server fail with
        their reason, the 197 others leave; the mass sending shows both."""
        contacts = self.env["res.partner"].create(
            [
                {"name": f"Cliente {n:03d}", "email": f"cliente{n:03d}@{CLIENT_DOMAIN}"}
                for n in range(200)
            ]
        )
        nobody = self.env["res.partner"].create({"name": "Senza Indirizzo"})
        refused = [f"cliente{n:03d}@{CLIENT_DOMAIN}" for n in (7, 100, 199)]
        template = self.env["mail.template"].create(
            {
                "name": "Listino",
                "mcl_crm": True,
                "mcl_sharing": "all",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "subject": "Listino per {{ object.name }}",
                "body_html": '<p>Gentile <t t-out="object.name"/>,</p>',
            }
        )
        wizard = (
            self.env["mailbox.mass.compose"]
            .with_user(self.user_sales_salesman)
            .with_context(active_model="res.partner", active_ids=(contacts | nobody).ids)
            .create({"template_id": template.id, "mailbox_id": self.mailbox.id})
        )
        with self.real_smtp() as sink:
            action = wizard.action_send()
            self.assertFalse(sink.messages)  # nothing is sent in the request
        batch = (
            self.env["mailbox.send.batch"]
            .with_user(self.user_sales_salesman)
            .browse(action["res_id"])
        )
        # a long list: the request only records it; the cron prepares it in chunks
        self.assertEqual(
            (batch.state, batch.record_count, batch.count_queued), ("preparing", 201, 0)
        )
        self.assertFalse(self.env["mailbox.outbox"]._prepare_batches())
        batch.invalidate_recordset()
        self.assertEqual((batch.state, batch.prepared_count), ("sending", 201))
        self.assertEqual((batch.count_queued, batch.skipped_count), (200, 1))
        self.assertEqual(set(batch.message_ids.send_user_id), {self.user_sales_salesman})
        self.assertIn("Senza Indirizzo: no email address", batch.skipped_note)
        sent = self.send_queued(refuse=refused)
        self.assertEqual(len(sent), 197)
        self.assertEqual(len({str(m["Message-ID"]) for m in sent}), 197)
        self.assertFalse({a for m in sent for a in m.rcpt_tos} & set(refused))
        batch.invalidate_recordset()
        self.assertEqual(
            (batch.count_sent, batch.count_failed, batch.count_queued, batch.state),
            (197, 3, 0, "done"),
        )
        failed = batch.message_ids.filtered(lambda m: m.send_state == "failed")
        self.assertEqual(sorted(failed.mapped("email_to")), refused)
        for mail in failed:
            self.assertIn(f"refused the recipient {mail.email_to}", mail.send_error)
        # each mail is on its own card, published as history (one chatter entry each)
        self.assertEqual(contacts[0].mcl_message_count, 1)
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 197)
        # the addresses fixed on the server side: Retry Failed sends those three only
        batch.action_retry_failed()
        again = self.send_queued()
        self.assertEqual(sorted(a for m in again for a in m.rcpt_tos), refused)
        batch.invalidate_recordset()
        self.assertEqual((batch.count_sent, batch.count_failed), (200, 0))

    def test_a_mass_sending_never_names_a_card_its_sender_may_not_read(self):
        """A mass sending naming a lead of another salesman (created over RPC, or the lead
        reassigned before its chunk is prepared) skips it without telling its name."""
        batch = (
            self.env["mailbox.send.batch"]
            .with_user(self.user_sales_salesman)
            .create(
                {
                    "name": "Listino",
                    "mailbox_id": self.mailbox.id,
                    "res_model": "crm.lead",
                    "res_ids": [self.lead_client.id],
                    "record_count": 1,
                    "preparing": True,
                }
            )
        )
        self.env["mailbox.outbox"]._prepare_batches()
        batch.invalidate_recordset()
        self.assertEqual((batch.skipped_count, batch.count_queued), (1, 0))
        note = batch.with_user(self.user_sales_salesman).skipped_note
        self.assertNotIn(self.lead_client.name, note)
        self.assertIn(f"#{self.lead_client.id}", batch.skipped_note)
        # a chunk that fails as a whole (here: another user's personal template, which a
        # mass sending may no longer be created with: it was made personal afterwards) lists
        # its records the same way
        template = self.env["mail.template"].create(
            {
                "name": "Personale",
                "mcl_crm": True,
                "user_id": self.user_sales_leads.id,
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "subject": "Offerta",
                "body_html": "<p>Gentile cliente,</p>",
            }
        )
        with self.assertRaises(AccessError):  # named over RPC: refused at once
            batch.create({"name": "Listino", "template_id": template.id, "res_model": "crm.lead"})
        batch = batch.sudo().create(
            {
                "name": "Listino",
                "user_id": self.user_sales_salesman.id,
                "mailbox_id": self.mailbox.id,
                "template_id": template.id,
                "res_model": "crm.lead",
                "res_ids": [self.lead_client.id, self.opportunity_client.id],
                "record_count": 2,
                "preparing": True,
            }
        )
        self.env.cr.commit()  # as its request did (a savepoint here)  # pylint: disable=invalid-commit
        self.env["mailbox.outbox"]._prepare_batches()
        batch.invalidate_recordset()
        self.assertEqual((batch.skipped_count, batch.count_queued), (2, 0))
        self.assertNotIn(self.lead_client.name, batch.skipped_note)
        self.assertIn(f"#{self.lead_client.id}: internal error", batch.skipped_note)
        self.assertIn(f"{self.opportunity_client.name}: internal error", batch.skipped_note)

    def test_a_crafted_mass_sending_never_stops_the_outbox(self):
        """A sales user may create mass sendings (the list's wizard does, as them). One
        created over RPC with a model or a list the wizard never gives must not break the
        outbox cron, which prepares mass sendings before it sends everyone's mail: it is
        refused when created."""
        Batch = self.env["mailbox.send.batch"].with_user(self.user_sales_salesman)
        for values in (
            {"res_model": "no.such.model", "res_ids": [self.contact_client.id]},
            {"res_model": "res.users", "res_ids": [self.user_sales_salesman.id]},
            {"res_model": "res.partner", "res_ids": {"not": "a list"}},
        ):
            with (
                self.subTest(values=values),
                self.assertRaises(ValidationError),
                self.env.cr.savepoint(),
            ):
                Batch.create(
                    {"name": "x", "mailbox_id": self.mailbox.id, "preparing": True, **values}
                )
        mail = self.write_to(self.contact_client)
        with self.real_smtp() as sink:
            self.env["mailbox.outbox"]._cron_send()
        self.assertEqual(len(sink.messages), 1)
        self.assertEqual(mail.send_state, "sent")


class TestOutboxDecisions(unittest.TestCase):
    """The pure decisions (mailflow.outbox): no Odoo, no server."""

    def test_failure_kinds(self):
        cases = [
            (ConnectionRefusedError(111, "Connection refused"), outbox.UNREACHABLE, True),
            (TimeoutError("timed out"), outbox.TIMEOUT, True),
            (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad"), outbox.AUTH, False),
            # a username set on a server that offers no login: its setup, not our failure
            (
                smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."),
                outbox.AUTH,
                False,
            ),
            (
                smtplib.SMTPRecipientsRefused({"a@x.example": (550, b"unknown")}),
                outbox.RECIPIENT,
                False,
            ),
            (
                smtplib.SMTPRecipientsRefused({"a@x.example": (450, b"greylisted")}),
                outbox.RECIPIENT,
                True,
            ),
            (smtplib.SMTPSenderRefused(553, b"not yours", "me@x.example"), outbox.SENDER, False),
            (smtplib.SMTPDataError(452, b"too much"), outbox.REFUSED, True),
            (smtplib.SMTPServerDisconnected("gone"), outbox.DISCONNECTED, True),
            (outbox.NoServer(), outbox.NO_SERVER, False),
            (outbox.Uncertain("timed out"), outbox.UNCERTAIN, False),
            (ValueError("bug"), outbox.INTERNAL, False),
        ]
        for exc, kind, temporary in cases:
            with self.subTest(exc=exc):
                failure = outbox.classify(exc)
                self.assertEqual((failure.kind, failure.temporary), (kind, temporary))

    def test_wrapped_failure_is_found_in_its_causes(self):
        """Odoo raises its own MailDeliveryException while handling the SMTP error."""
        wrapped = RuntimeError("Mail Delivery Failed")
        wrapped.__context__ = smtplib.SMTPRecipientsRefused({"b@x.example": (550, b"no such user")})
        failure = outbox.classify(wrapped)
        self.assertEqual(failure.kind, outbox.RECIPIENT)
        self.assertEqual(failure.addresses, ["b@x.example"])
        self.assertIn("550 no such user", failure.detail)

    def test_attempts(self):
        temporary = outbox.Failure(outbox.UNREACHABLE, True)
        permanent = outbox.Failure(outbox.AUTH, False)
        self.assertEqual(outbox.after_failure(temporary, 1), 1)
        self.assertEqual(outbox.after_failure(temporary, 2), 10)
        self.assertIsNone(outbox.after_failure(temporary, outbox.MAX_ATTEMPTS))
        self.assertIsNone(outbox.after_failure(permanent, 1))

    def test_who_saves_sent_mail(self):
        self.assertFalse(outbox.saves_sent_by_default("imap.gmail.com"))
        self.assertFalse(outbox.saves_sent_by_default("outlook.office365.com."))
        self.assertFalse(outbox.saves_sent_by_default("outlook.office.com"))
        self.assertTrue(outbox.saves_sent_by_default("imap.mycompany.example"))
        self.assertTrue(outbox.saves_sent_by_default(""))
