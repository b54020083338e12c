"""Reply and write from the CRM card (issue 5): queued in the request and linked to the card
at once, then sent by the outbox through the mailbox's SMTP server (a real listener),
threaded, and saved in Dovecot's Sent folder (issue 12)."""

from email.utils import getaddresses

from odoo.exceptions import AccessError

from odoo.addons.mail_crm_link.mailflow import threads

from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon


class TestCompose(MailCrmLinkCommon):
    def setUp(self):
        super().setUp()
        self.mailbox = self.make_mailbox(
            email_address=f"sales@{OUR_DOMAIN}",
            mail_server_id=self.make_mail_server().id,
            deal_link_mode="all",
        )
        self.sync(self.mailbox)  # finds the folders

    def compose(self, user, values=None, **context):
        """The composer as the user opens it (defaults from the context), then ``values``."""
        Compose = self.env["mailbox.compose"].with_user(user).with_context(**context)
        vals = Compose.default_get(list(Compose._fields))
        vals.update(body="<p>Buongiorno, ecco il preventivo aggiornato.</p>", **(values or {}))
        return Compose.create(vals)

    def defaults(self, user, **context):
        Compose = self.env["mailbox.compose"].with_user(user).with_context(**context)
        return Compose.default_get(list(Compose._fields))

    def test_reply_quotes_the_original(self):
        """Reply opens with room to write, then the original quoted as mail programs do."""
        self.dovecot.append(
            self.mailbox.user,
            self.corpus.message(
                sender=("Giulia Rossi", self.contact_client.email),
                subject="Richiesta di offerta",
                body="Vorremmo 40 postazioni entro marzo.",
                lang="it",
            ),
        )
        self.sync(self.mailbox)
        incoming = self.stored(self.mailbox, sender=self.contact_client.email)
        body = str(self.defaults(self.user_sales_salesman, default_parent_id=incoming.id)["body"])
        self.assertIn("wrote:", body)
        self.assertIn("Giulia Rossi", body)
        self.assertIn('data-o-mail-quote="1"', body)
        self.assertIn("Vorremmo 40 postazioni entro marzo.", body)
        self.assertLess(body.index("<p><br></p>"), body.index("wrote:"))  # room to write first

    def test_reply_from_the_card(self):
        original = self.corpus.message(
            sender=("Giulia Rossi", self.contact_client.email),
            subject="Richiesta di offerta",
            lang="it",
        )
        self.dovecot.append(self.mailbox.user, original)
        self.sync(self.mailbox)
        incoming = self.stored(self.mailbox, sender=self.contact_client.email)
        deal = self.opportunity_client
        wizard = self.compose(
            self.user_sales_salesman,
            default_parent_id=incoming.id,
            default_res_model="crm.lead",
            default_res_id=deal.id,
        )
        self.assertEqual(wizard.subject, "Re: Richiesta di offerta")
        self.assertIn(self.contact_client.email, wizard.email_to)
        self.assertEqual(wizard.mailbox_id, self.mailbox)
        with self.real_smtp() as sink:
            wizard.action_send()
        self.assertFalse(sink.messages)  # nothing leaves inside the request
        queued = self.stored(self.mailbox, send_state="queued")
        self.assertEqual(queued.link_ids.lead_id, deal)  # on the card at once, with its state
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 0)
        messages = self.send_queued()
        self.assertEqual(len(messages), 1)
        sent = messages[0]
        self.assertEqual(sent.rcpt_tos, [self.contact_client.email])
        self.assertEqual(sent["In-Reply-To"], incoming.message_id)
        self.assertTrue(str(sent["References"]).endswith(incoming.message_id))
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        self.assertEqual(threads.read_token(str(sent["Message-ID"]), secret), ("crm.lead", deal.id))
        self.assertEqual(getaddresses([str(sent["From"])])[0][1], f"sales@{OUR_DOMAIN}")
        # linked to the card at once, shown in its chatter
        stored = self.stored(self.mailbox, message_id=str(sent["Message-ID"]))
        self.assertEqual(stored, queued)
        self.assertEqual(stored.send_state, "sent")
        self.assertEqual(stored.append_state, "done")
        self.assertEqual(stored.direction, "outgoing")
        self.assertEqual(stored.link_ids.lead_id, deal)
        self.assertEqual(stored.link_ids.user_id, self.user_sales_salesman)
        self.assertTrue(stored.link_ids.mail_message_id)
        # saved, read, in the mailbox's Sent folder; the next sync does not store it twice
        self.assertEqual(self.dovecot.count(self.mailbox.user, "Sent"), 1)
        (flags,) = self.dovecot.flags(self.mailbox.user, "Sent").values()
        self.assertIn("\\Seen", flags)
        before = len(self.stored(self.mailbox))
        self.sync(self.mailbox)
        self.assertEqual(len(self.stored(self.mailbox)), before)
        # the client's colleague answers: the token brings it to the deal
        self.dovecot.append(
            self.mailbox.user,
            self.corpus.reply(
                sent.raw,
                sender=("Marco Bianchi", f"marco.b@{CLIENT_DOMAIN}"),
                to=f"sales@{OUR_DOMAIN}",
            ),
        )
        self.sync(self.mailbox)
        answer = self.stored(self.mailbox, sender=f"marco.b@{CLIENT_DOMAIN}")
        self.assertIn(deal, answer.link_ids.lead_id)

    def test_new_email_from_a_card_prefills_the_client(self):
        for record, expected in (
            (self.contact_client, self.contact_client.email),
            (self.opportunity_client, self.contact_client.email),
            (self.company_client, self.company_client.email),
        ):
            with self.subTest(record=record.display_name):
                action = record.with_user(self.user_sales_salesman).action_mcl_compose()
                defaults = self.defaults(self.user_sales_salesman, **action["context"])
                self.assertEqual(defaults["email_to"], expected)
        lead = self.env["crm.lead"].create(
            {
                "name": "No client",
                "email_from": f"x@{CLIENT_DOMAIN}",
                "user_id": self.user_sales_salesman.id,
            }
        )
        wizard = self.compose(
            self.user_sales_salesman,
            {"subject": "Hello"},
            default_res_model="crm.lead",
            default_res_id=lead.id,
        )
        self.assertEqual(wizard.email_to, f"x@{CLIENT_DOMAIN}")
        wizard.action_send()
        self.assertEqual(self.send_queued()[0].rcpt_tos, [f"x@{CLIENT_DOMAIN}"])
        self.assertEqual(lead.mcl_message_count, 1)

    def test_only_usable_mailboxes_and_readable_cards(self):
        self.mailbox.write({"mailbox_access": "personal", "owner_id": self.user_sales_manager.id})
        defaults = self.defaults(
            self.user_sales_salesman,
            default_res_model="res.partner",
            default_res_id=self.contact_client.id,
        )
        self.assertFalse(defaults.get("mailbox_id"))  # not offered
        with self.assertRaises(AccessError):  # a composer on it is refused at once
            self.compose(
                self.user_sales_leads,
                {"subject": "Hi", "mailbox_id": self.mailbox.id},
                default_res_model="crm.lead",
                default_res_id=self.lead_client.id,
            )
        self.assertFalse(self.send_queued())
