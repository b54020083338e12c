"""Links by hand, the CRM card, private mail and strict visibility (issue 5), enforced on the
server at every sales right level."""

from odoo.exceptions import AccessError, UserError

from .common import CLIENT_DOMAIN
from .test_linking import LinkingCase


class TestManualLinks(LinkingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mailbox.incoming_unknown_action = "none"

    def unlinked_mail(self, **kwargs):
        kwargs.setdefault("sender", ("Богдан Мельник", f"bohdan@{CLIENT_DOMAIN}"))
        message = self.deliver(self.corpus.message(lang="uk", **kwargs))
        self.assertEqual(message.state, "new")
        return message

    def test_link_within_rights(self):
        message = self.unlinked_mail()
        own = message.with_user(self.user_sales_salesman)
        own.action_link_record("crm.lead", self.opportunity_client.id)  # own deal
        own.action_link_record("res.partner", self.contact_client.id)
        with self.assertRaises(AccessError):  # another salesperson's lead
            own.action_link_record("crm.lead", self.lead_client.id)
        message.with_user(self.user_sales_leads).action_link_record("crm.lead", self.lead_client.id)
        self.assertEqual(
            self.links(message), {self.opportunity_client, self.contact_client, self.lead_client}
        )
        self.assertEqual(set(message.link_ids.mapped("link_type")), {"manual"})
        by_user = {link.lead_id or link.partner_id: link.user_id for link in message.link_ids}
        self.assertEqual(by_user[self.lead_client], self.user_sales_leads)
        self.assertEqual(by_user[self.contact_client], self.user_sales_salesman)
        self.assertEqual(message.state, "linked")
        # published once in each chatter, pending activity on the main record
        self.assertEqual(len(message.link_ids.mail_message_id), 3)
        self.assertTrue(message.activity_id)
        with self.assertRaises(AccessError):
            message.with_user(self.user_no_crm).action_link_record(
                "res.partner", self.contact_client.id
            )
        with self.assertRaises(UserError):
            message.action_link_record("res.users", self.user_sales_leads.id)

    def test_link_wizard_offers_only_readable_records(self):
        message = self.unlinked_mail()
        Lead = self.env["crm.lead"].with_user(self.user_sales_salesman)
        offered = Lead.name_search("", limit=1000)
        self.assertIn(self.opportunity_client.id, [i for i, _n in offered])
        self.assertNotIn(self.lead_client.id, [i for i, _n in offered])
        wizard = (
            self.env["mailbox.link.wizard"]
            .with_user(self.user_sales_salesman)
            .with_context(active_model="mailbox.message", active_ids=message.ids)
            .create({"target": "lead", "lead_id": self.opportunity_client.id})
        )
        wizard.action_link()
        self.assertEqual(self.links(message), {self.opportunity_client})

    def test_link_wizard_refuses_mail_the_user_may_not_read(self):
        """A wizard holding a mail the user may no longer read (made private meanwhile, say)
        linked nothing and said nothing: it says why now, and links nothing."""
        self.mailbox.mailbox_access = "shared"
        readable = self.unlinked_mail()
        hidden = self.unlinked_mail(sender=("Олена Коваль", f"olena@{CLIENT_DOMAIN}"))
        salesman = self.user_sales_salesman
        wizard = (
            self.env["mailbox.link.wizard"]
            .with_user(salesman)
            .with_context(active_model="mailbox.message", active_ids=(readable | hidden).ids)
            .create({"target": "partner", "partner_id": self.contact_client.id})
        )
        hidden.private = True  # a private mail of a shared mailbox: not the salesman's
        Message = self.env["mailbox.message"].with_user(salesman)
        self.assertEqual(Message.search([("id", "in", (readable | hidden).ids)]), readable)
        self.env.invalidate_all()
        with self.assertRaisesRegex(AccessError, "1 of these 2 mails"):
            wizard.with_context(lang="en_US").action_link()
        self.assertFalse(readable.link_ids, "nothing linked")
        self.assertFalse(hidden.link_ids)
        wizard.message_ids = readable
        wizard.action_link()
        self.assertEqual(self.links(readable), {self.contact_client})

    def test_remove_a_link_only_with_write_right_on_the_record(self):
        message = self.unlinked_mail()
        message.with_user(self.user_sales_leads).action_link_record("crm.lead", self.lead_client.id)
        link = message.link_ids
        entry = link.mail_message_id
        with self.assertRaises(AccessError):  # set by someone else on a lead they cannot edit
            link.with_user(self.user_sales_salesman).action_remove()
        with self.assertRaises(AccessError):  # links are changed through actions only
            link.with_user(self.user_sales_leads).unlink()
        link.with_user(self.user_sales_leads).action_remove()
        self.assertFalse(link.exists())
        self.assertFalse(entry.exists())  # the chatter entry goes with it
        self.assertFalse(message.activity_id)  # so does the pending activity on that lead
        self.assertTrue(message.exists())  # the mail stays in the mailbox
        self.assertEqual(message.state, "new")

    def test_deleting_the_record_takes_the_mail_off_it(self):
        """The database drops the links of a deleted lead or contact by itself (ON DELETE
        CASCADE): the mail must not stay "Linked" on nothing, out of the triage queue."""
        message = self.unlinked_mail()
        other = self.unlinked_mail(sender=("Олена Коваль", f"olena@{CLIENT_DOMAIN}"))
        leads = self.user_sales_leads
        lead = self.env["crm.lead"].create({"name": "To delete", "user_id": leads.id})
        contact = self.env["res.partner"].create({"name": "To delete too"})
        message.with_user(leads).action_link_record("crm.lead", lead.id)
        other.with_user(leads).action_link_record("crm.lead", lead.id)
        other.with_user(leads).action_link_record("res.partner", contact.id)
        self.assertEqual((message | other).mapped("state"), ["linked", "linked"])
        entry = message.link_ids.mail_message_id
        self.assertTrue(message.activity_id)
        # deletion stays Odoo's to allow: only sales managers delete leads
        with self.assertRaises(AccessError):
            lead.with_user(leads).unlink()
        self.assertEqual(message.state, "linked")
        self.assertTrue(message.link_ids)
        lead.with_user(self.user_sales_manager).unlink()
        self.assertEqual(message.state, "new", "back as it is with no link")
        self.assertFalse(message.link_ids)
        self.assertFalse(message.activity_id)
        self.assertFalse(entry.exists())
        self.assertTrue(message.with_user(leads).in_triage)
        self.assertEqual(other.state, "linked", "still on the contact")
        self.assertEqual(self.links(other), {contact})
        contact.unlink()
        self.assertEqual(other.state, "new")
        self.assertFalse(other.link_ids)

    def test_create_from_mail_at_each_level(self):
        for user in (self.user_sales_salesman, self.user_sales_leads, self.user_sales_manager):
            with self.subTest(user=user.login):
                message = self.unlinked_mail(
                    sender=("Ірина Бондаренко", f"iryna.{user.id}@{CLIENT_DOMAIN}"),
                    subject="Re: Запит ціни",
                    charset="windows-1251",
                )
                action = message.with_user(user).action_create_lead()
                lead = self.env["crm.lead"].browse(action["res_id"])
                self.assertEqual(lead.name, "Запит ціни")
                self.assertEqual(lead.email_from, f"iryna.{user.id}@{CLIENT_DOMAIN}")
                self.assertEqual(lead.contact_name, "Ірина Бондаренко")
                self.assertEqual(lead.user_id, user)
                action = message.with_user(user).action_create_contact()
                contact = self.env["res.partner"].browse(action["res_id"])
                self.assertEqual(contact.name, "Ірина Бондаренко")
                self.assertEqual(self.links(message), {lead, contact})

    def test_create_refused_without_create_right(self):
        message = self.unlinked_mail()
        self.env.ref("crm.access_crm_lead").perm_create = False
        with self.assertRaises(AccessError):
            message.with_user(self.user_sales_salesman).action_create_lead()
        self.assertFalse(message.link_ids)

    def test_card_counts_and_remove_from_card(self):
        self.second_deal.active = False
        first = self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        original = self.deliver(first)
        reply = self.deliver(
            self.corpus.reply(
                first,
                sender=("Giulia", self.contact_client.email),
                to=("S", "sales@mycompany.example"),
            )
        )
        deal = self.opportunity_client.with_user(self.user_sales_salesman)
        self.assertEqual(deal.mcl_message_count, 2)
        action = deal.action_mcl_messages()
        self.assertEqual(self.env["mailbox.message"].search(action["domain"]), original | reply)
        original.with_user(self.user_sales_salesman).with_context(
            **action["context"]
        ).action_remove_from_record()
        self.assertNotIn(self.opportunity_client, self.links(original))
        self.assertIn(self.contact_client, self.links(original))  # other cards keep it
        self.assertIn(self.opportunity_client, self.links(reply))  # the rest of the thread too
        self.assertEqual(deal.mcl_message_count, 1)
        self.assertEqual(self.contact_client.with_user(self.user_no_crm).mcl_message_count, 0)

    def test_files_from_mail(self):
        self.mailbox.deal_link_mode = "all"
        raw = self.corpus.message(
            sender=("Giulia Rossi", self.contact_client.email),
            lang="it",
            attachments=["Preventivo_città.pdf", "foto.png"],
        )
        message = self.deliver(raw)
        Files = self.env["mailbox.message.file"]
        on_contact = Files.search(self.contact_client.action_mcl_files()["domain"])
        self.assertEqual(set(on_contact.mapped("name")), {"Preventivo_città.pdf", "foto.png"})
        self.assertEqual(on_contact.message_id, message)
        self.assertEqual(on_contact.attachment_id, message.attachment_ids)
        on_company = Files.search(self.company_client.action_mcl_files()["domain"])
        self.assertEqual(set(on_company.mapped("client_id")), {self.company_client})
        on_deal = Files.search(self.second_deal.action_mcl_files()["domain"])
        self.assertEqual(len(on_deal), 2)
        # the second deal belongs to user_sales_leads: its rows are not the salesman's
        own = Files.with_user(self.user_sales_salesman).search([("message_id", "=", message.id)])
        self.assertNotIn(self.second_deal, own.lead_id)
        self.assertIn(self.opportunity_client, own.lead_id)
        self.assertEqual(
            own.with_user(self.user_sales_salesman)[:1].action_open_mail()["res_id"], message.id
        )


class TestPrivateAndStrict(LinkingCase):
    def chatter(self, record, user):
        return (
            self.env["mail.message"]
            .with_user(user)
            .search(
                [
                    ("model", "=", record._name),
                    ("res_id", "=", record.id),
                    ("mcl_message_id", "!=", False),
                ]
            )
        )

    def test_private_mail_shows_to_the_owner_and_managers_only(self):
        self.mailbox.mailbox_access = "shared"
        self.second_deal.active = False
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        with self.assertRaises(AccessError):
            message.with_user(self.user_sales_salesman).action_toggle_private()
        message.with_user(self.owner).action_toggle_private()  # the owner is a sales manager here
        self.assertTrue(message.private)
        self.assertTrue(message.link_ids)  # still linked
        salesman = self.user_sales_salesman
        self.assertFalse(
            self.env["mailbox.message"].with_user(salesman).search([("id", "=", message.id)])
        )
        self.assertFalse(
            self.env["mailbox.message.link"]
            .with_user(salesman)
            .search([("message_id", "=", message.id)])
        )
        self.assertFalse(self.chatter(self.contact_client, salesman))
        self.assertFalse(self.chatter(self.contact_client, self.user_sales_leads))
        self.assertTrue(self.chatter(self.contact_client, self.user_sales_manager))

    def test_personal_mailbox_owner_marks_a_correspondent_private(self):
        self.mailbox.write(
            {
                "mailbox_access": "personal",
                "owner_id": self.user_sales_salesman.id,
                "member_ids": [(4, self.user_sales_leads.id)],
            }
        )
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        message.with_user(self.user_sales_salesman).action_private_correspondent()
        self.assertTrue(message.private)
        later = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        self.assertTrue(later.private)
        for user in (self.user_sales_salesman, self.user_sales_manager):
            self.assertEqual(len(self.chatter(self.contact_client, user)), 2)
        self.assertFalse(self.chatter(self.contact_client, self.user_sales_leads))
        self.assertFalse(
            self.env["mailbox.message"]
            .with_user(self.user_sales_leads)
            .search([("id", "in", (message | later).ids)])
        )

    def test_strict_visibility(self):
        # the mail is on Giulia's card and on a lead of another salesperson
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        message.action_link_record("crm.lead", self.lead_client.id)
        salesman = self.user_sales_salesman
        self.assertTrue(self.chatter(self.contact_client, salesman))
        self.assertTrue(self.chatter(self.contact_client, self.user_no_crm))
        self.mailbox.strict_visibility = True
        self.env.invalidate_all()
        self.assertFalse(self.chatter(self.contact_client, salesman))  # cannot read lead_client
        self.assertFalse(self.chatter(self.contact_client, self.user_no_crm))  # reads no lead
        self.assertTrue(self.chatter(self.contact_client, self.user_sales_leads))
        self.assertTrue(self.chatter(self.contact_client, self.user_sales_manager))
