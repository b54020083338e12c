"""Sending from the CRM (issue 6): templates with personal and shared access, the sender's
identity, the address policy, open tracking and the forwarding alias."""

import base64
from email.utils import getaddresses

from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged

from odoo.addons.mail_crm_link.mailflow import tracking

from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon


class SendingCase(MailCrmLinkCommon):
    def setUp(self):
        super().setUp()
        self.mailbox = self.make_mailbox(
            email_address=f"sales@{OUR_DOMAIN}", mail_server_id=self.make_mail_server().id
        )
        self.sync(self.mailbox)  # finds the folders

    def composer(self, user, record, **values):
        Compose = (
            self.env["mailbox.compose"]
            .with_user(user)
            .with_context(default_res_model=record._name, default_res_id=record.id)
        )
        vals = Compose.default_get(list(Compose._fields))
        # this test's mailbox, not the default one (the first of any mailbox in the database)
        vals.update(
            {"mailbox_id": self.mailbox.id, "subject": "Offer", "body": "<p>Hello</p>", **values}
        )
        return Compose.create(vals)

    def send(self, composer):
        """Send as the user does (queued), then as the outbox does after the commit."""
        composer.action_send()
        return self.send_queued()


class TestTemplates(SendingCase):
    def template(self, owner, model="res.partner", **values):
        return (
            self.env["mail.template"]
            .with_user(owner)
            .create(
                {
                    "name": f"Offer ({owner.login})",
                    "mcl_crm": True,
                    "model_id": self.env["ir.model"]._get_id(model),
                    "subject": "Offer for {{ object.name }}",
                    "body_html": '<p>Dear <t t-out="object.name"/>,</p>',
                    **values,
                }
            )
        )

    def test_personal_and_shared_templates(self):
        personal = self.template(self.user_sales_salesman)
        shared_all = self.template(self.user_sales_leads, mcl_sharing="all")
        shared_group = self.template(
            self.user_sales_leads,
            mcl_sharing="groups",
            mcl_group_ids=[(4, self.env.ref("sales_team.group_sale_manager").id)],
        )
        self.assertEqual(personal.user_id, self.user_sales_salesman)
        Template = self.env["mail.template"]
        seen = {
            user: Template.with_user(user).search([("mcl_crm", "=", True)])
            for user in (self.user_sales_salesman, self.user_sales_leads, self.user_sales_manager)
        }
        self.assertEqual(seen[self.user_sales_salesman], personal | shared_all)
        self.assertEqual(seen[self.user_sales_leads], shared_all | shared_group)
        self.assertEqual(seen[self.user_sales_manager], shared_all | shared_group)
        # Odoo's own templates stay visible to everybody
        self.assertTrue(
            Template.with_user(self.user_sales_salesman).search([("mcl_crm", "=", False)])
        )

    def test_placeholders_for_each_record_type(self):
        partner_tpl = self.template(
            self.env.user,  # an administrator: placeholders in templates need an editor
            mcl_sharing="all",
            body_html='<p><t t-out="object.name"/> / <t t-out="object.commercial_company_name"/>'
            ' / <t t-out="object.user_id.name"/></p>',
        )
        lead_tpl = self.template(
            self.env.user,
            model="crm.lead",
            mcl_sharing="all",
            subject="{{ object.name }}",
            body_html='<p><t t-out="object.partner_id.name or object.contact_name"/> / '
            '<t t-out="object.user_id.name"/></p>',
        )
        user = self.user_sales_salesman
        cases = [
            (
                self.contact_client,
                partner_tpl,
                "Offer for Giulia Rossi",
                "Giulia Rossi / Client Industries / ",
            ),
            (
                self.company_client,
                partner_tpl,
                "Offer for Client Industries",
                "Client Industries / Client Industries",
            ),
            (self.opportunity_client, lead_tpl, "Client Industries: 40 units", "Giulia Rossi / "),
        ]
        for record, template, subject, body in cases:
            with self.subTest(record=record.display_name):
                composer = self.composer(user, record)
                composer.template_id = template
                composer._onchange_template_id()
                self.assertEqual(composer.subject, subject)
                self.assertIn(body, str(composer.body))
        lead = self.env["crm.lead"].create(
            {
                "name": "Lead X",
                "type": "lead",
                "contact_name": "Olena",
                "user_id": user.id,
                "email_from": f"o@{CLIENT_DOMAIN}",
            }
        )
        composer = self.composer(user, lead)
        composer.template_id = lead_tpl
        composer._onchange_template_id()
        self.assertEqual(composer.subject, "Lead X")
        self.assertIn(f"Olena / {user.name}", str(composer.body))

    def test_mass_sending_from_a_list(self):
        template = self.template(self.user_sales_salesman)
        second = self.env["res.partner"].create(
            {"name": "Marco Bianchi", "email": f"marco@{CLIENT_DOMAIN}"}
        )
        nobody = self.env["res.partner"].create({"name": "No Address"})
        wizard = (
            self.env["mailbox.mass.compose"]
            .with_user(self.user_sales_salesman)
            .with_context(
                active_model="res.partner", active_ids=(self.contact_client | second | nobody).ids
            )
            .create({"template_id": template.id, "mailbox_id": self.mailbox.id})
        )
        self.assertEqual(wizard.record_count, 3)
        action = wizard.action_send()
        batch = self.env["mailbox.send.batch"].browse(action["res_id"])
        self.assertEqual((batch.count_queued, batch.count_sent, batch.skipped_count), (2, 0, 1))
        self.assertIn("No Address", batch.skipped_note)
        messages = self.send_queued()
        self.assertEqual(
            sorted(m.rcpt_tos[0] for m in messages),
            sorted([self.contact_client.email, second.email]),
        )
        self.assertEqual(
            {str(m["Subject"]) for m in messages},
            {"Offer for Giulia Rossi", "Offer for Marco Bianchi"},
        )
        for partner in (self.contact_client, second):
            self.assertEqual(partner.mcl_message_count, 1)
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 2)
        batch.invalidate_recordset()
        self.assertEqual((batch.count_queued, batch.count_sent, batch.state), (0, 2, "done"))

    def test_one_bad_recipient_fails_alone(self):
        """Issue 23, finding 8: a contact whose name holds CR/LF used to abort the
        whole mass sending (only UserError was caught): each recipient now fails alone, with
        its reason, and the others leave."""
        template = self.template(self.user_sales_salesman)
        bad = self.env["res.partner"].create(
            {"name": "Evil\r\nBcc: victim@elsewhere.example", "email": f"evil@{CLIENT_DOMAIN}"}
        )
        good = self.env["res.partner"].create(
            {"name": "Marco Bianchi", "email": f"marco@{CLIENT_DOMAIN}"}
        )
        wizard = (
            self.env["mailbox.mass.compose"]
            .with_user(self.user_sales_salesman)
            .with_context(active_model="res.partner", active_ids=(bad | good).ids)
            .create({"template_id": template.id, "mailbox_id": self.mailbox.id})
        )
        batch = self.env["mailbox.send.batch"].browse(wizard.action_send()["res_id"])
        messages = self.send_queued()
        self.assertIn(good.email, [m.rcpt_tos[0] for m in messages])
        for message in messages:
            self.assertNotIn("victim@elsewhere.example", message.rcpt_tos, "no header injection")
            self.assertNotIn(b"\nBcc:", message.raw)
        batch.invalidate_recordset()
        self.assertEqual((batch.count_sent, batch.skipped_count), (1, 1))
        self.assertIn("Evil", batch.skipped_note)
        self.assertIn("could not be written", batch.skipped_note)


class TestSenderAndAddresses(SendingCase):
    def test_sender_choice_and_the_mailbox_gets_the_answer(self):
        user = self.user_sales_salesman
        self.mailbox.copy_mode = "reply_to"
        (mail,) = self.send(self.composer(user, self.contact_client, sender_mode="user"))
        self.assertEqual(getaddresses([str(mail["From"])])[0][1], user.email)
        self.assertEqual(getaddresses([str(mail["Reply-To"])])[0][1], f"sales@{OUR_DOMAIN}")
        self.mailbox.copy_mode = "cc"
        (mail,) = self.send(self.composer(user, self.contact_client, sender_mode="user"))
        self.assertIn(f"sales@{OUR_DOMAIN}", mail.rcpt_tos)
        self.assertIn(f"sales@{OUR_DOMAIN}", str(mail["Cc"]))
        template = self.env["mail.template"].create(
            {
                "name": "From support",
                "mcl_crm": True,
                "mcl_sharing": "all",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "email_from": f"support@{OUR_DOMAIN}",
                "subject": "x",
            }
        )
        # issue 23, finding 6: the template's address only when the mailbox may send as it
        with self.assertRaisesRegex(UserError, "may not send as support@"):
            self.composer(
                user, self.contact_client, sender_mode="template", template_id=template.id
            ).action_send()
        self.mailbox.send_as_aliases = f"info@{OUR_DOMAIN}\nSupport@{OUR_DOMAIN}"
        (mail,) = self.send(
            self.composer(
                user, self.contact_client, sender_mode="template", template_id=template.id
            )
        )
        self.assertEqual(getaddresses([str(mail["From"])])[0][1], f"support@{OUR_DOMAIN}")
        # "The template's address" without a template: said, never the mailbox's silently
        with self.assertRaisesRegex(ValidationError, "choose a template"):
            self.composer(user, self.contact_client, sender_mode="template")
        (mail,) = self.send(self.composer(user, self.contact_client))  # from the mailbox
        self.assertEqual(getaddresses([str(mail["From"])])[0][1], f"sales@{OUR_DOMAIN}")
        self.assertEqual(getaddresses([str(mail["Reply-To"])])[0][1], f"sales@{OUR_DOMAIN}")
        # the client answers the mail sent from the user's address: back into the CRM
        self.dovecot.append(
            self.mailbox.user,
            self.corpus.reply(
                mail.raw,
                sender=("Giulia Rossi", self.contact_client.email),
                to=f"sales@{OUR_DOMAIN}",
            ),
        )
        self.sync(self.mailbox)
        answer = self.stored(self.mailbox, direction="incoming")
        self.assertIn(self.contact_client, answer.link_ids.partner_id)

    def test_a_template_cannot_send_as_anybody(self):
        """Issue 23, finding 6: any employee may write a template; its From must not make
        the company's server send as the CEO, in one mail or in a mass sending."""
        user = self.user_sales_salesman
        template = (
            self.env["mail.template"]
            .with_user(user)
            .create(
                {
                    "name": "From the boss",
                    "mcl_crm": True,
                    "model_id": self.env["ir.model"]._get_id("res.partner"),
                    "email_from": f"ceo@{OUR_DOMAIN}",
                    "subject": "Pay now",
                }
            )
        )
        with self.assertRaisesRegex(UserError, f"may not send as ceo@{OUR_DOMAIN}"):
            self.composer(
                user, self.contact_client, sender_mode="template", template_id=template.id
            ).action_send()
        wizard = (
            self.env["mailbox.mass.compose"]
            .with_user(user)
            .with_context(active_model="res.partner", active_ids=self.contact_client.ids)
            .create(
                {
                    "template_id": template.id,
                    "mailbox_id": self.mailbox.id,
                    "sender_mode": "template",
                }
            )
        )
        with self.assertRaisesRegex(UserError, "may not send as ceo@"):
            wizard.action_send()  # none of the records can be written to: said, none leaves
        self.assertEqual(self.send_queued(), [])

    def test_no_duplicate_contact_and_new_addresses(self):
        user = self.user_sales_salesman
        partners = self.env["res.partner"].search_count([])
        self.send(self.composer(user, self.contact_client, email_to="GIULIA.ROSSI@Client.Example"))
        self.assertEqual(self.env["res.partner"].search_count([]), partners)
        self.send(
            self.composer(
                user, self.contact_client, email_cc=f"Luca Romano <luca.romano@{CLIENT_DOMAIN}>"
            )
        )
        luca = self.env["res.partner"].search([("email", "=", f"luca.romano@{CLIENT_DOMAIN}")])
        self.assertEqual(luca.name, "Luca Romano")  # the outgoing policy: one new contact
        self.send(self.composer(user, self.contact_client, email_cc=f"luca.romano@{CLIENT_DOMAIN}"))
        self.assertEqual(len(self.env["res.partner"].search([("email", "=", luca.email)])), 1)
        self.mailbox.allow_any_address = False
        with self.assertRaises(UserError):
            self.composer(
                user, self.contact_client, email_cc=f"stranger@{CLIENT_DOMAIN}"
            ).action_send()
        self.assertFalse(self.send_queued())
        self.send(self.composer(user, self.contact_client, email_cc=luca.email))  # known: fine

    def test_forwarding_alias(self):
        self.mailbox.action_create_forward_alias()
        alias = self.mailbox.forward_alias
        self.assertRegex(alias, r"^mcl-\d+-[0-9a-f]{16}$")
        raw = self.corpus.message(
            sender=("Francesca Esposito", f"francesca@{CLIENT_DOMAIN}"),
            subject="Richiesta di offerta",
            lang="it",
            extra_headers={"Delivered-To": f"{alias}@{OUR_DOMAIN}"},
        )
        self.env["mail.thread"].message_process(False, raw)
        stored = self.stored(self.mailbox, sender=f"francesca@{CLIENT_DOMAIN}")
        self.assertEqual(stored.state, "linked")
        lead = stored.link_ids.lead_id
        self.assertEqual(lead.name, "Richiesta di offerta")
        # other mail still goes through Odoo's own gateway
        self.env["mail.thread"].message_process(
            "crm.lead", self.corpus.message(sender=("X", f"x@{CLIENT_DOMAIN}"), subject="Gateway")
        )
        self.assertTrue(self.env["crm.lead"].search([("name", "=", "Gateway")]))
        self.assertFalse(self.stored(self.mailbox, sender=f"x@{CLIENT_DOMAIN}"))


@tagged("post_install", "-at_install")
class TestOpenTracking(HttpCase):
    def test_pixel_counts_opens_with_a_valid_token_only(self):
        mailbox = self.env["fetchmail.server"].create(
            {"name": "T", "server_type": "imap", "server": "127.0.0.1", "crm_link_mode": "auto"}
        )
        message = self.env["mailbox.message"].create(
            {"mailbox_id": mailbox.id, "dedup_key": "<t@x>", "open_token": "tok-123"}
        )
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        url = tracking.pixel_url("", "tok-123", secret)
        first = self.url_open(url)
        self.assertEqual(first.status_code, 200)
        self.assertEqual(first.headers["Content-Type"], "image/gif")
        message.invalidate_recordset()
        self.assertEqual(message.open_count, 1)
        first_open = message.open_first
        self.assertEqual(self.url_open(url).status_code, 200)
        message.invalidate_recordset()
        self.assertEqual(message.open_count, 1, "fetched again within a minute: one open")
        self.env.cr.execute(  # a minute later, the recipient opens it again
            "UPDATE mailbox_message SET open_last = open_last - interval '61 seconds'"
            " WHERE id = %s",
            [message.id],
        )
        self.url_open(url)
        message.invalidate_recordset()
        self.assertEqual(message.open_count, 2)
        self.assertEqual(message.open_first, first_open)
        forged = tracking.pixel_url("", "tok-123", "another secret")
        self.assertEqual(self.url_open(forged).status_code, 404)
        self.assertEqual(self.url_open(tracking.pixel_url("", "tok-999", secret)).status_code, 404)
        message.invalidate_recordset()
        self.assertEqual(message.open_count, 2)

    def test_colleagues_logged_in_are_not_counted(self):
        """Issue 23, finding 7: a salesman who opens the image's address while logged in
        (from the card, a copy) is not 'the recipient opened it'."""
        mailbox = self.env["fetchmail.server"].create(
            {"name": "T", "server_type": "imap", "server": "127.0.0.1", "crm_link_mode": "auto"}
        )
        message = self.env["mailbox.message"].create(
            {"mailbox_id": mailbox.id, "dedup_key": "<t2@x>", "open_token": "tok-456"}
        )
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        self.authenticate("admin", "admin")
        response = self.url_open(tracking.pixel_url("", "tok-456", secret))
        self.assertEqual(response.status_code, 200, "the image is served")
        message.invalidate_recordset()
        self.assertEqual(message.open_count, 0, "nothing counted")


class TestTrackedSending(SendingCase):
    def test_pixel_only_for_client_mail(self):
        self.mailbox.open_tracking = True
        user = self.user_sales_salesman
        (mail,) = self.send(self.composer(user, self.contact_client))
        self.assertIn("/mail_crm_link/open/", mail.raw.decode(errors="replace"))
        stored = self.stored(self.mailbox, message_id=str(mail["Message-ID"]))
        self.assertTrue(stored.sudo().open_token)
        # issue 23, finding 7: the image is in the recipient's copy only
        self.assertNotIn("/mail_crm_link/open/", str(stored.body_html or ""))
        self.assertNotIn(b"/mail_crm_link/open/", base64.b64decode(stored.outgoing_raw or b""))
        chatter = self.contact_client.message_ids.filtered(lambda m: "Offer" in (m.body or ""))
        self.assertFalse([m for m in chatter if "/mail_crm_link/open/" in m.body])
        with self.dovecot.imap(self.mailbox.user) as conn:
            conn.select("Sent", readonly=True)
            _typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        sent = b"".join(item[1] for item in data if isinstance(item, tuple))
        self.assertIn(b"Offer", sent)
        self.assertNotIn(b"/mail_crm_link/open/", sent, "the Sent copy has no image")
        colleague = self.env["res.partner"].create({"name": "Boss", "email": f"boss@{OUR_DOMAIN}"})
        (mail,) = self.send(self.composer(user, colleague, email_to=colleague.email))
        self.assertNotIn("/mail_crm_link/open/", mail.raw.decode(errors="replace"))
        (mail,) = self.send(self.composer(user, self.contact_client, email_cc=colleague.email))
        self.assertNotIn("/mail_crm_link/open/", mail.raw.decode(errors="replace"))
