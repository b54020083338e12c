"""The email timeline of a CRM card (issue 14): a card's mail newest first, a company's with
its people's and deals', read with the user's rights; sent mail shown as the user's; a reply
that marks the answered mail processed when the mailbox asks for it; Forward."""

from datetime import datetime

from odoo.exceptions import AccessError

from .. import compat
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon

SALES = f"sales@{OUR_DOMAIN}"
GIULIA = f'"Giulia Rossi" <giulia.rossi@{CLIENT_DOMAIN}>'


class TestTimeline(MailCrmLinkCommon):
    def setUp(self):
        super().setUp()
        self.mailbox = self.env["fetchmail.server"].create(
            {
                "name": "Sales mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 143,
                "user": SALES,
                "password": "x",
                "email_address": SALES,
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "owner_id": self.user_sales_salesman.id,
                "state": "done",
            }
        )
        self.seq = 0

    def mail(self, subject, day, direction="incoming", **values):
        """A stored mail of the sales mailbox, dated ``day`` of March 2026."""
        self.seq += 1
        incoming = direction == "incoming"
        vals = {
            "mailbox_id": self.mailbox.id,
            "dedup_key": f"timeline-{self.seq}",
            "message_id": f"<timeline-{self.seq}@{CLIENT_DOMAIN}>",
            "subject": subject,
            "date": datetime(2026, 3, day, 9, 30),
            "direction": direction,
            "mail_kind": "client",
            "email_from": GIULIA if incoming else f'"Sara Sales" <{SALES}>',
            "sender": f"giulia.rossi@{CLIENT_DOMAIN}" if incoming else SALES,
            "email_to": SALES if incoming else GIULIA,
            "body_html": f"<p>{subject}: the body</p>",
            "body_text": f"{subject}: the body",
        }
        vals.update(values)
        return self.env["mailbox.message"].create(vals)

    def link(self, message, record):
        return self.env["mailbox.message.link"]._add_links(message, record)

    def timeline(self, user, record, **kwargs):
        return (
            self.env["mailbox.timeline"]
            .with_user(user)
            .read_timeline(record._name, record.id, **kwargs)
        )

    def subjects(self, result):
        return [mail["subject"] for mail in result["mails"]]

    # -- what the panel shows ----------------------------------------------------------------
    def test_newest_first_with_direction_participants_state(self):
        question = self.mail("Richiesta di offerta", 2)
        answer = self.mail("Re: Richiesta di offerta", 3, "outgoing", send_state="sent")
        older = self.mail("Primo contatto", 1)
        self.env["ir.attachment"].create(
            {
                "name": "offerta.pdf",
                "raw": b"%PDF-1.4 offer",
                "res_model": "mailbox.message",
                "res_id": older.id,
            }
        )
        for message in (older, answer, question):
            self.link(message, self.opportunity_client)
        result = self.timeline(self.user_sales_salesman, self.opportunity_client)
        self.assertEqual(result["total"], 3)
        self.assertEqual(
            self.subjects(result),
            ["Re: Richiesta di offerta", "Richiesta di offerta", "Primo contatto"],
        )
        sent, received, first = result["mails"]
        self.assertEqual(sent["direction"], "outgoing")
        self.assertEqual(sent["state"], "sent")
        self.assertEqual(sent["to"], "Giulia Rossi")
        self.assertEqual(received["direction"], "incoming")
        self.assertEqual(received["from"], "Giulia Rossi")
        self.assertEqual(received["state"], "pending")  # its Email activity is open
        self.assertTrue(received["can_process"])  # the salesman's own deal
        self.assertTrue(received["can_remove"])
        self.assertIn("the body", received["body"])
        self.assertEqual([a["name"] for a in first["attachments"]], ["offerta.pdf"])
        # paging: the next page starts where the first stopped
        page = self.timeline(self.user_sales_salesman, self.opportunity_client, limit=2, offset=2)
        self.assertEqual(self.subjects(page), ["Primo contatto"])
        # marked processed from the panel: its state says so
        question.with_user(self.user_sales_salesman).action_mark_processed()
        result = self.timeline(self.user_sales_salesman, self.opportunity_client)
        self.assertEqual(result["mails"][1]["state"], "processed")
        self.assertFalse(result["mails"][1]["can_process"])

    def test_company_gathers_its_people_and_deals(self):
        on_contact = self.mail("To Giulia", 1)
        on_deal = self.mail("About the deal", 2)
        on_company = self.mail("To the company", 3)
        elsewhere = self.mail("Another client", 4)
        self.link(on_contact, self.contact_client)
        self.link(on_deal, self.opportunity_client)
        self.link(on_company, self.company_client)
        self.link(elsewhere, self.env["res.partner"].create({"name": "Other Client"}))
        result = self.timeline(self.user_sales_manager, self.company_client)
        self.assertEqual(self.subjects(result), ["To the company", "About the deal", "To Giulia"])
        deal_mail = result["mails"][1]
        self.assertIn(self.opportunity_client.name, [r["name"] for r in deal_mail["records"]])
        self.assertFalse(deal_mail["can_remove"])  # it is on the deal, not on the company
        self.assertTrue(result["mails"][0]["can_remove"])
        # a person's card: their mail and their deals', not their company's
        self.assertEqual(
            self.subjects(self.timeline(self.user_sales_manager, self.contact_client)),
            ["About the deal", "To Giulia"],
        )

    def test_salesman_sees_only_mail_he_may_read(self):
        """Own documents only: the mail of a colleague's deal of the same company and another
        owner's private mail stay out of his timeline; the manager sees them."""
        colleague_deal = self.env["crm.lead"].create(
            {
                "name": "Client Industries: service contract",
                "type": "opportunity",
                "partner_id": self.contact_client.id,
                "user_id": self.user_sales_leads.id,
            }
        )
        visible = self.mail("Visible to all", 1)
        theirs = self.mail("On the colleague's deal", 2)
        self.link(visible, self.contact_client)
        self.link(theirs, colleague_deal)
        private_box = self.env["fetchmail.server"].create(
            {
                "name": "Manager's box",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 143,
                "user": f"manager@{OUR_DOMAIN}",
                "password": "x",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "owner_id": self.user_sales_manager.id,
            }
        )
        private = self.mail("Private", 3, mailbox_id=private_box.id, private=True)
        self.link(private, self.contact_client)
        salesman = self.timeline(self.user_sales_salesman, self.company_client)
        self.assertEqual(self.subjects(salesman), ["Visible to all"])
        self.assertEqual(salesman["total"], 1)
        manager = self.timeline(self.user_sales_manager, self.company_client)
        self.assertEqual(
            self.subjects(manager), ["Private", "On the colleague's deal", "Visible to all"]
        )
        with self.assertRaises(AccessError):
            self.timeline(self.user_sales_salesman, colleague_deal)

    def test_no_mail_rights_no_mail(self):
        self.link(self.mail("Richiesta", 1), self.contact_client)
        result = self.timeline(self.user_no_crm, self.contact_client)
        self.assertEqual(result, {"total": 0, "mails": []})

    # -- the chatter: sent mail as the user's, direction told ----------------------------------
    def test_sent_mail_is_shown_as_the_mailbox_owners(self):
        """Mail sent from the mailbox's address in a mail program is the owner's (name and
        avatar), not a raw address; the chatter entry says which way the mail went."""
        sent = self.mail("Offerta", 2, "outgoing")
        received = self.mail("Richiesta", 1)
        self.link(received, self.opportunity_client)
        self.link(sent, self.opportunity_client)
        entry = sent.link_ids.mail_message_id
        self.assertEqual(entry.author_id, self.user_sales_salesman.partner_id)
        self.assertNotEqual(received.link_ids.mail_message_id.author_id, entry.author_id)
        entries = entry | received.link_ids.mail_message_id
        data = compat.web_client_data(entries.with_user(self.user_sales_salesman))
        directions = {m["id"]: m.get("mcl_direction") for m in data["mail.message"]}
        self.assertEqual(directions[entry.id], "outgoing")
        self.assertEqual(directions[received.link_ids.mail_message_id.id], "incoming")

    # -- replying -------------------------------------------------------------------------------
    def reply(self, message):
        self.mailbox.mail_server_id = self.make_mail_server()
        Compose = (
            self.env["mailbox.compose"]
            .with_user(self.user_sales_salesman)
            .with_context(
                default_parent_id=message.id,
                default_res_model="crm.lead",
                default_res_id=self.opportunity_client.id,
            )
        )
        vals = Compose.default_get(list(Compose._fields))
        vals["body"] = "<p>Ecco il preventivo.</p>" + str(vals["body"])
        Compose.create(vals).action_send()
        self.env.invalidate_all()

    def test_reply_keeps_the_mail_pending_by_default(self):
        """As Bitrix24: the conversation goes on, the Email activity stays open."""
        question = self.mail("Richiesta di offerta", 1)
        self.link(question, self.opportunity_client)
        self.assertTrue(question.pending)
        self.reply(question)
        self.assertTrue(question.pending)
        self.assertTrue(question.activity_id)

    def test_reply_marks_processed_when_the_mailbox_says_so(self):
        self.mailbox.reply_marks_processed = True
        question = self.mail("Richiesta di offerta", 1)
        self.link(question, self.opportunity_client)
        activity = question.activity_id
        self.reply(question)
        self.assertTrue(question.processed)
        self.assertFalse(question.pending)
        self.assertFalse(activity.exists().filtered("active"))  # done (19 keeps it, archived)
        queued = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("send_state", "=", "queued")]
        )
        self.assertEqual(queued.subject, "Re: Richiesta di offerta")

    def test_forward_quotes_the_mail_with_its_files(self):
        message = self.mail("Richiesta di offerta", 1)
        file = self.env["ir.attachment"].create(
            {
                "name": "specifiche.pdf",
                "raw": b"%PDF-1.4 specs",
                "res_model": "mailbox.message",
                "res_id": message.id,
            }
        )
        self.link(message, self.opportunity_client)
        Compose = (
            self.env["mailbox.compose"]
            .with_user(self.user_sales_salesman)
            .with_context(
                mcl_forward_id=message.id,
                default_res_model="crm.lead",
                default_res_id=self.opportunity_client.id,
            )
        )
        vals = Compose.default_get(list(Compose._fields))
        self.assertEqual(vals["subject"], "Fwd: Richiesta di offerta")
        self.assertFalse(vals["email_to"])
        self.assertIn("Forwarded message", str(vals["body"]))
        self.assertIn("Richiesta di offerta: the body", str(vals["body"]))
        self.assertEqual(vals["mailbox_id"], self.mailbox.id)
        wizard = Compose.create({**vals, "email_to": f"marco.b@{CLIENT_DOMAIN}"})
        self.assertEqual(wizard.attachment_ids, file)
        self.assertFalse(wizard.parent_id)
