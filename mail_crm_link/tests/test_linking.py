"""Automatic linking and the create policies (issue 4).

``TestLinking`` stores raw mail as the sync does (the store service, then the linker)
and checks what a user sees: links, created records, chatter entries, Email activities.
``TestLinkingEndToEnd`` goes through a real Dovecot mailbox and the sync engine.
"""

from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mail_crm_link import compat
from odoo.addons.mail_crm_link.mailflow import policy, threads
from odoo.addons.mail_crm_link.services.record_factory import ADDRESS_LOCK_NAMESPACE

from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon

SALES = ("Sales", f"sales@{OUR_DOMAIN}")


class LinkingCase(MailCrmLinkCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = cls.user_sales_manager
        cls.mailbox = cls.env["fetchmail.server"].create(
            {
                "name": "Sales mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "sales",
                "password": "unused",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "owner_id": cls.owner.id,
            }
        )
        cls.inbox, cls.sent = cls.env["mailbox.folder"].create(
            [
                {"mailbox_id": cls.mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"},
                {"mailbox_id": cls.mailbox.id, "name": "Sent", "label": "Sent", "role": "sent"},
            ]
        )
        cls.second_deal = cls.env["crm.lead"].create(
            {
                "name": "Client Industries: spare parts",
                "type": "opportunity",
                "partner_id": cls.company_client.id,
                "user_id": cls.user_sales_leads.id,
            }
        )

    def deliver(self, *raws, folder=None, mailbox=None, notes=False):
        """Store ``raws`` as one fetched batch and run the after-store hook, as the sync."""
        mailbox = mailbox or self.mailbox
        folder = folder or self.inbox
        uid = self.env["mailbox.message"].search_count([]) + 1000
        items = [({"imap_uid": uid + i, "uidvalidity": 1}, raw, None) for i, raw in enumerate(raws)]
        records = self.env["mailbox.message.store"]._store_batch(mailbox, folder, items)
        self.env["mailbox.crm.linker"]._link_safely(records)
        if not notes:  # no linking failure nor loop guard unless the test expects one
            self.assertFalse(records.filtered("link_note").mapped("link_note"))
        return records

    def links(self, message):
        """The records ``message`` is linked to, as a set."""
        return {link.lead_id or link.partner_id for link in message.link_ids}

    def leads_from(self, address):
        return self.env["crm.lead"].search([("email_normalized", "=", address)])


class TestLinking(LinkingCase):
    # -- unknown senders --------------------------------------------------------------------
    def test_without_leads_the_policy_creates_opportunities(self):
        """With Odoo's "Leads" setting off (its default), a "Create a lead" policy makes
        opportunities, which the pipeline shows, as Odoo's mail alias does; the same when
        the mailbox's sales team does not use leads."""
        self.env["res.config.settings"].create({"group_use_lead": False}).execute()
        self.assertFalse(self.env.user.has_group("crm.group_use_lead"))
        self.deliver(self.corpus.message(sender=("Ada", f"ada@{CLIENT_DOMAIN}")))
        created = self.leads_from(f"ada@{CLIENT_DOMAIN}")
        self.assertEqual(created.type, "opportunity")
        self.assertIn(created, self.env["crm.lead"].search([("type", "=", "opportunity")]))

    def test_a_team_without_leads_gets_opportunities(self):
        self.mailbox.team_id = self.sales_team_1
        self.sales_team_1.use_leads = False
        self.deliver(self.corpus.message(sender=("Bo", f"bo@{CLIENT_DOMAIN}")))
        self.assertEqual(self.leads_from(f"bo@{CLIENT_DOMAIN}").type, "opportunity")

    def test_leads_of_a_batch_wake_the_enrichment_cron_once(self):
        """Each lead Odoo creates asks its enrichment cron (crm_iap_enrich) to run after the
        commit; the leads of one linked batch ask it once, as soon as possible, as one lead
        does. A cron asked outside the batch is asked as usual."""
        cron = self.env.ref("crm_iap_enrich.ir_cron_lead_enrichment")
        self.env["ir.config_parameter"].sudo().set_param("crm.iap.lead.enrich.setting", "auto")
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search([("cron_id", "=", cron.id)])
        self.deliver(
            *(
                self.corpus.message(sender=(f"Client {n}", f"wake{n}@{CLIENT_DOMAIN}"))
                for n in range(3)
            )
        )
        self.assertEqual(len(self.env["crm.lead"].search([("email_from", "like", "wake")])), 3)
        asked = Trigger.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(len(asked), 1)
        self.assertLessEqual(asked.call_at, fields.Datetime.now())
        self.env["crm.lead"].create({"name": "By hand", "email_from": "hand@example.com"})
        self.assertEqual(len(Trigger.search([("cron_id", "=", cron.id)]) - before), 2)

    def test_links_equal_orm_links(self):
        """The links of a sync are written in one SQL statement: each row is the one
        ``mailbox.message.link.create`` writes for the same values (every stored column),
        and the mail and the contact show it at once."""
        self.assertTrue(self.env.su)  # as the sync runs
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        link = message.link_ids.filtered(lambda lk: lk.partner_id == self.contact_client)
        self.assertEqual(link.link_type, "address")
        self.assertIn(link, self.contact_client.mcl_link_ids)
        self.assertEqual(message.link_count, len(message.link_ids))
        other = self.env["res.partner"].create({"name": "Compared", "email": "cmp@example.com"})
        orm = self.env["mailbox.message.link"].create(
            {"message_id": message.id, "partner_id": other.id, "link_type": "address"}
        )
        self.env.flush_all()
        self.env.invalidate_all()
        stored = [
            name
            for name, field in self.env["mailbox.message.link"]._fields.items()
            if field.store
            # the chatter entry is the publisher's (test_history_entries_equal_orm_entries)
            and name not in ("id", "create_date", "write_date", "partner_id", "mail_message_id")
        ]
        self.assertEqual(link.read(stored)[0] | {"id": 0}, orm.read(stored)[0] | {"id": 0})
        self.assertEqual(link.create_date, orm.create_date)  # the transaction's time, both

    def test_unknown_sender_creates_a_lead_with_source_and_responsible(self):
        self.env["res.config.settings"].create({"group_use_lead": True}).execute()
        raw = self.corpus.message(
            sender=("Олена Бондар", f"olena.bondar@{CLIENT_DOMAIN}"),
            subject="Запит ціни",
            lang="uk",
            charset="windows-1251",
            attachments=["Специфікація.pdf"],
        )
        message = self.deliver(raw)
        lead = self.leads_from(f"olena.bondar@{CLIENT_DOMAIN}")
        self.assertEqual(len(lead), 1)
        self.assertEqual(lead.name, "Запит ціни")
        self.assertEqual(lead.type, "lead")
        self.assertEqual(lead.contact_name, "Олена Бондар")
        self.assertEqual(lead.user_id, self.owner)  # no fixed user: the mailbox owner
        # the mailbox's own source, named after it (not a generic word, read in English)
        self.assertEqual(lead.source_id, self.mailbox.source_id)
        self.assertEqual(lead.source_id.name, self.mailbox.name)
        self.assertEqual(lead.medium_id, self.env.ref("utm.utm_medium_email"))
        self.assertEqual(message.state, "linked")
        self.assertEqual(message.link_ids.link_type, "policy")
        # the chatter shows the mail as an email, with its attachment
        entry = message.link_ids.mail_message_id
        self.assertEqual(entry.model, "crm.lead")
        self.assertEqual(entry.res_id, lead.id)
        self.assertEqual(entry.message_type, "email")
        self.assertEqual(entry.subject, "Запит ціни")
        self.assertEqual(entry.attachment_ids.mapped("name"), ["Специфікація.pdf"])
        self.assertIn("Просимо надіслати", str(entry.body))
        # one pending Email activity for the responsible
        activity = message.activity_id
        self.assertEqual(activity.res_id, lead.id)
        self.assertEqual(activity.user_id, self.owner)
        self.assertEqual(activity.activity_type_id, self.env.ref("mail.mail_activity_data_email"))
        self.assertEqual(
            activity.date_deadline, policy.next_working_day(fields.Date.context_today(lead))
        )
        self.assertTrue(message.pending)

    def test_each_mailbox_has_its_own_source(self):
        """A CRM mailbox's source is named after the mailbox; a source of exactly that name is
        reused; a policy left without source gets the mailbox's own again; a mailbox with CRM
        linking off (Odoo's gateway) is left alone."""
        Mailbox, Source = self.env["fetchmail.server"], self.env["utm.source"]
        values = {"server_type": "imap", "server": "127.0.0.1", "port": 1, "password": "x"}
        orders = Source.create({"name": "orders@mycompany.example"})
        first = Mailbox.create(
            {**values, "name": "orders@mycompany.example", "user": "a", "crm_link_mode": "auto"}
        )
        self.assertEqual(first.source_id, orders)
        fresh = Mailbox.create(
            {**values, "name": "info@mycompany.example", "user": "b", "crm_link_mode": "manual"}
        )
        self.assertEqual(fresh.source_id.name, "info@mycompany.example")
        self.assertNotEqual(fresh.source_id, self.env.ref("mail_crm_link.utm_source_mailbox"))
        fresh.source_id = False
        self.assertEqual(fresh.source_id.name, "info@mycompany.example")
        self.assertEqual(Source.search_count([("name", "=", "info@mycompany.example")]), 1)
        native = Mailbox.create({**values, "name": "odoo@mycompany.example", "user": "c"})
        self.assertFalse(native.source_id)
        native.crm_link_mode = "auto"
        self.assertEqual(native.source_id.name, "odoo@mycompany.example")
        chosen = Source.create({"name": "Trade fair 2026"})
        native.source_id = chosen
        self.assertEqual(native.source_id, chosen)

    def test_own_source_made_meanwhile_by_another_transaction(self):
        """Another transaction commits the source of the same name after this one began (it
        cannot see it): the mailbox is saved all the same, without source for now (the next
        record it creates, in a later transaction, finds the committed one)."""
        name = f"race.{self.mailbox.id}@mycompany.example"
        self.env.cr.execute("SELECT 1")  # this transaction's snapshot is taken
        with Registry(self.env.cr.dbname).cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["utm.source"].create({"name": name})
        self.addCleanup(self._drop_committed_source, name)
        mailbox = self.env["fetchmail.server"].create(
            {
                "name": name,
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "race",
                "password": "x",
                "crm_link_mode": "auto",
            }
        )
        self.assertFalse(mailbox.source_id)
        self.assertEqual(self.env["fetchmail.server"].search([("name", "=", name)]), mailbox)

    def _drop_committed_source(self, name):
        with Registry(self.env.cr.dbname).cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["utm.source"].search(
                [("name", "=", name)]
            ).unlink()

    def test_empty_subject_names_the_lead_after_the_sender(self):
        self.deliver(
            self.corpus.message(sender=("Marco Bianchi", f"m@{CLIENT_DOMAIN}"), subject="")
        )
        self.assertEqual(self.leads_from(f"m@{CLIENT_DOMAIN}").name, "Email from Marco Bianchi")

    def test_two_mails_from_one_new_address_create_one_lead(self):
        sender = ("Анна Смирнова", f"anna@{CLIENT_DOMAIN}")
        first = self.corpus.message(sender=sender, lang="ru", charset="koi8-r")
        second = self.corpus.message(sender=sender, lang="ru", charset="koi8-r")
        self.deliver(first, second)  # one batch
        self.deliver(self.corpus.message(sender=sender, lang="ru"))  # a later batch
        lead = self.leads_from(sender[1])
        self.assertEqual(len(lead), 1)
        self.assertEqual(len(lead.mcl_link_ids), 3)

    def test_policy_choices_for_unknown_senders(self):
        cases = [
            (
                "opportunity",
                lambda a: self.leads_from(a).filtered(lambda x: x.type == "opportunity"),
            ),
            (
                "contact",
                lambda a: self.env["res.partner"].search(
                    [("email", "=", a), ("is_company", "=", False)]
                ),
            ),
            (
                "company",
                lambda a: self.env["res.partner"].search(
                    [("email", "=", a), ("is_company", "=", True)]
                ),
            ),
        ]
        for action, find in cases:
            with self.subTest(action=action):
                self.mailbox.incoming_unknown_action = action
                address = f"{action}@acme-tools.example"
                message = self.deliver(self.corpus.message(sender=("Luca Romano", address)))
                record = find(address)
                self.assertEqual(len(record), 1)
                self.assertEqual(self.links(message), {record})
        self.assertEqual(
            self.env["res.partner"].search([("email", "=", "company@acme-tools.example")]).name,
            "Acme Tools",
        )
        self.mailbox.incoming_unknown_action = "none"
        message = self.deliver(self.corpus.message(sender=("X", "nobody@acme-tools.example")))
        self.assertEqual(message.state, "new")
        self.assertFalse(self.leads_from("nobody@acme-tools.example"))

    def test_team_and_fixed_responsible(self):
        self.mailbox.write(
            {"team_id": self.sales_team_1.id, "incoming_user_id": self.user_sales_leads.id}
        )
        self.deliver(self.corpus.message(sender=("A", f"a1@{CLIENT_DOMAIN}")))
        lead = self.leads_from(f"a1@{CLIENT_DOMAIN}")
        self.assertEqual(lead.team_id, self.sales_team_1)
        self.assertEqual(lead.user_id, self.user_sales_leads)

    def test_round_robin_skips_inactive_members(self):
        team = self.env["crm.team"].create({"name": "Inbound"})
        members = self.user_sales_salesman | self.user_sales_leads | self.user_sales_manager
        self.env["crm.team.member"].create(
            [{"crm_team_id": team.id, "user_id": u.id} for u in members]
        )
        self.user_sales_leads.active = False
        self.mailbox.write({"team_id": team.id, "incoming_assign": "round_robin"})
        senders = [f"rr{i}@{CLIENT_DOMAIN}" for i in range(4)]
        self.deliver(*[self.corpus.message(sender=("R", s)) for s in senders])
        assigned = [self.leads_from(s).user_id for s in senders]
        active = sorted((self.user_sales_salesman | self.user_sales_manager).ids)
        self.assertEqual([u.id for u in assigned], active + active)

    def test_round_robin_without_members_falls_back_to_the_owner_with_a_notice(self):
        team = self.env["crm.team"].create({"name": "Empty"})
        self.mailbox.write({"team_id": team.id, "incoming_assign": "round_robin"})
        self.deliver(self.corpus.message(sender=("R", f"lonely@{CLIENT_DOMAIN}")))
        self.assertEqual(self.leads_from(f"lonely@{CLIENT_DOMAIN}").user_id, self.owner)
        notice = self.env["mail.message"].search(
            [("model", "=", "fetchmail.server"), ("res_id", "=", self.mailbox.id)], limit=1
        )
        self.assertIn("Round robin found no active member", str(notice.body))
        self.assertIn(self.owner.partner_id, notice.partner_ids)

    def test_always_create_list_and_loop_guard(self):
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 3)
        self.mailbox.always_create = "forms@website.example"
        raws = [
            self.corpus.message(sender=("Web form", "forms@website.example"), subject=f"Form {i}")
            for i in range(5)
        ]
        messages = self.deliver(*raws, notes=True)
        self.assertEqual(len(self.leads_from("forms@website.example")), 3)
        self.assertIn("loop guard", messages.sorted("date")[-1].link_note or "")

    # -- known correspondents -----------------------------------------------------------------
    def test_known_contact_links_contact_company_and_its_single_open_deal(self):
        self.second_deal.active = False  # one open deal left
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        self.assertEqual(
            self.links(message), {self.contact_client, self.company_client, self.opportunity_client}
        )
        self.assertEqual(set(message.link_ids.mapped("link_type")), {"address"})
        self.assertEqual(message.activity_id.res_model, "crm.lead")
        self.assertEqual(message.activity_id.user_id, self.user_sales_salesman)
        self.assertFalse(self.leads_from(self.contact_client.email) - self.opportunity_client)

    def test_deal_link_modes(self):
        sender = ("Giulia Rossi", self.contact_client.email)
        expected = {
            policy.DEALS_ALL: self.opportunity_client | self.second_deal,
            policy.DEALS_RECENT: self.second_deal,
            policy.DEALS_SINGLE: self.env["crm.lead"],
            policy.DEALS_NONE: self.env["crm.lead"],
        }
        for mode, deals in expected.items():
            with self.subTest(mode=mode):
                self.mailbox.deal_link_mode = mode
                message = self.deliver(self.corpus.message(sender=sender))
                self.assertEqual(message.link_ids.lead_id, deals)
                self.assertEqual(message.needs_deal_choice, mode == policy.DEALS_SINGLE)
        flagged = self.env["mailbox.message"].search([("needs_deal_choice", "=", True)])
        self.assertTrue(flagged.activity_id.summary.startswith("Choose a deal"))
        self.assertEqual(flagged.activity_id.res_model, "res.partner")

    def test_known_client_without_open_deal_gets_an_opportunity(self):
        (self.opportunity_client | self.second_deal).active = False
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        deal = message.link_ids.filtered(lambda link: link.link_type == "policy").lead_id
        self.assertEqual(deal.type, "opportunity")
        self.assertEqual(deal.partner_id, self.contact_client)
        self.assertEqual(deal.user_id, self.user_sales_salesman)  # the client's salesperson
        # a second mail finds the new open deal: no second opportunity
        self.deliver(self.corpus.message(sender=("Giulia Rossi", self.contact_client.email)))
        deals = self.env["crm.lead"].search([("partner_id", "=", self.contact_client.id)])
        self.assertEqual(deals, deal)

    def test_known_client_with_open_deal_and_setting_off_gets_a_deal_per_mail(self):
        self.mailbox.write(
            {
                "known_only_without_open": False,
                "known_assign": "fixed",
                "known_user_id": self.user_sales_leads.id,
            }
        )
        self.deliver(self.corpus.message(sender=("Giulia Rossi", self.contact_client.email)))
        new = self.env["crm.lead"].search(
            [("partner_id", "=", self.contact_client.id), ("id", "!=", self.opportunity_client.id)]
        )
        self.assertEqual(len(new), 1)
        self.assertEqual(new.user_id, self.user_sales_leads)

    def test_company_address_links_the_company(self):
        message = self.deliver(self.corpus.message(sender=("Info", self.company_client.email)))
        self.assertIn(self.company_client, self.links(message))
        self.assertNotIn(self.contact_client, self.links(message))

    def test_lead_address_links_the_lead_and_creates_nothing(self):
        count = self.env["crm.lead"].search_count([])
        message = self.deliver(self.corpus.message(sender=("Olena", self.lead_client.email_from)))
        self.assertEqual(self.links(message), {self.lead_client})
        self.assertEqual(self.env["crm.lead"].search_count([]), count)
        self.assertEqual(message.activity_id.user_id, self.user_sales_leads)

    def test_addresses_are_normalized(self):
        idn = self.env["res.partner"].create({"name": "Bücher", "email": "Info@Bücher.example"})
        plus = self.env["res.partner"].create({"name": "Plus", "email": f"plus@{CLIENT_DOMAIN}"})
        raws = [
            self.corpus.message(sender=("X", "INFO@xn--bcher-kva.example")),
            self.corpus.message(sender='"Giulia, Rossi" <GIULIA.ROSSI@Client.Example>'),
            self.corpus.message(sender=("P", f"plus+news@{CLIENT_DOMAIN}")),
        ]
        self.mailbox.write({"fold_plus": True})
        m_idn, m_case, m_plus = self.deliver(*raws).sorted("date")
        self.assertIn(idn, self.links(m_idn))
        self.assertIn(self.contact_client, self.links(m_case))
        self.assertIn(plus, self.links(m_plus))

    def test_additional_addresses_of_a_contact(self):
        self.contact_client.extra_email_ids = [(0, 0, {"email": "Giulia <giulia@private.example>"})]
        message = self.deliver(self.corpus.message(sender=("Giulia", "giulia@private.example")))
        self.assertIn(self.contact_client, self.links(message))
        self.assertFalse(self.leads_from("giulia@private.example"))

    def test_several_records_with_one_address_are_all_linked(self):
        twin = self.env["res.partner"].create(
            {"name": "Giulia (old)", "email": self.contact_client.email}
        )
        message = self.deliver(self.corpus.message(sender=("G", self.contact_client.email)))
        self.assertLessEqual({self.contact_client, twin}, self.links(message))

    def test_never_log_lists(self):
        self.mailbox.never_log = "family.example"
        self.env["ir.config_parameter"].set_param(
            "mail_crm_link.never_log", "robot@supplier.example"
        )
        mum = self.deliver(self.corpus.message(sender=("Mum", "mum@family.example")))
        robot = self.deliver(self.corpus.message(sender=("Robot", "robot@supplier.example")))
        for message in mum | robot:
            self.assertEqual(message.mail_kind, "excluded")
            self.assertEqual(message.state, "ignored")
            self.assertFalse(message.link_ids)
        self.assertFalse(
            self.leads_from("mum@family.example") | self.leads_from("robot@supplier.example")
        )

    # -- outgoing -------------------------------------------------------------------------------
    def test_outgoing_to_unknown_creates_a_contact_for_the_sender(self):
        sent = self.corpus.message(
            sender=(self.user_sales_leads.name, self.user_sales_leads.email),
            to=[("Francesca Esposito", f"francesca@{CLIENT_DOMAIN}"), self.contact_client.email],
            subject="Preventivo",
            lang="it",
        )
        message = self.deliver(sent, folder=self.sent)
        self.assertEqual(message.direction, "outgoing")
        contact = self.env["res.partner"].search([("email", "=", f"francesca@{CLIENT_DOMAIN}")])
        self.assertEqual(contact.name, "Francesca Esposito")
        self.assertEqual(contact.user_id, self.user_sales_leads)
        self.assertLessEqual({contact, self.contact_client}, self.links(message))
        self.assertFalse(message.activity_id)  # outgoing mail is not pending work
        self.assertEqual(
            message.link_ids.mail_message_id.author_id, self.user_sales_leads.partner_id
        )

    def test_outgoing_policy_lead_or_nothing(self):
        self.mailbox.write(
            {
                "outgoing_unknown_action": "lead",
                "outgoing_assign": "fixed",
                "outgoing_user_id": self.user_sales_salesman.id,
            }
        )
        self.deliver(
            self.corpus.message(sender=SALES, to=f"new1@{CLIENT_DOMAIN}"), folder=self.sent
        )
        self.assertEqual(self.leads_from(f"new1@{CLIENT_DOMAIN}").user_id, self.user_sales_salesman)
        self.mailbox.outgoing_unknown_action = "none"
        message = self.deliver(
            self.corpus.message(sender=SALES, to=f"new2@{CLIENT_DOMAIN}"), folder=self.sent
        )
        self.assertFalse(message.link_ids)
        self.assertFalse(self.env["res.partner"].search([("email", "=", f"new2@{CLIENT_DOMAIN}")]))

    # -- not CRM material -----------------------------------------------------------------------
    def test_not_crm_material_creates_nothing(self):
        count = self.env["crm.lead"].search_count([]), self.env["res.partner"].search_count([])
        corpus = self.corpus
        kinds = {
            "internal": corpus.internal(f"boss@{OUR_DOMAIN}", f"sales@{OUR_DOMAIN}"),
            "auto_reply": corpus.auto_reply(f"sales@{OUR_DOMAIN}"),
            "bounce": corpus.bounce(f"gone@{CLIENT_DOMAIN}"),
            "mailing_list": corpus.mailing_list(),
        }
        for kind, raw in kinds.items():
            message = self.deliver(raw)
            self.assertEqual((message.mail_kind, message.state), (kind, "ignored"))
            self.assertFalse(message.link_ids)
        spam = self.env["mailbox.folder"].create(
            {
                "mailbox_id": self.mailbox.id,
                "name": "Junk",
                "label": "Junk",
                "role": "spam",
                "sync": False,
            }
        )
        message = self.deliver(corpus.message(), folder=spam)
        self.assertEqual((message.mail_kind, message.state), ("spam", "ignored"))
        self.assertEqual(
            (self.env["crm.lead"].search_count([]), self.env["res.partner"].search_count([])), count
        )

    def test_mailing_lists_can_be_client_mail(self):
        self.mailbox.skip_mailing_lists = False
        message = self.deliver(self.corpus.mailing_list())
        self.assertEqual(message.mail_kind, "client")
        self.assertEqual(message.state, "linked")

    def test_auto_reply_joins_its_thread_only(self):
        sent = self.deliver(
            self.corpus.message(sender=SALES, to=self.contact_client.email), folder=self.sent
        )
        auto = self.corpus.auto_reply(
            f"sales@{OUR_DOMAIN}", sender=("Giulia Rossi", self.contact_client.email)
        )
        auto = auto.replace(
            b"Subject:", b"In-Reply-To: " + sent.message_id.encode() + b"\r\nSubject:", 1
        )
        message = self.deliver(auto)
        self.assertEqual(message.mail_kind, "auto_reply")
        self.assertEqual(set(message.link_ids.mapped("link_type")), {"thread"})
        self.assertEqual(self.links(message), self.links(sent))
        self.assertFalse(message.activity_id)

    # -- threads ----------------------------------------------------------------------------------
    def test_reply_from_a_new_address_follows_its_thread(self):
        first = self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        original = self.deliver(first)
        colleague = ("Marco Bianchi", f"marco.bianchi@{CLIENT_DOMAIN}")
        reply = self.deliver(self.corpus.reply(first, sender=colleague, to=SALES))
        self.assertEqual((self.links(reply)), (self.links(original)))
        self.assertEqual(set(reply.link_ids.mapped("link_type")), {"thread"})
        self.assertFalse(self.leads_from(colleague[1]))  # no lead for the colleague

    def test_client_answer_to_mail_sent_from_outlook(self):
        # a manager wrote from Outlook; the Sent folder was imported, then the client answers
        sent_raw = self.corpus.message(sender=SALES, to=("Taras", f"taras@{CLIENT_DOMAIN}"))
        sent = self.deliver(sent_raw, folder=self.sent)
        taras = self.env["res.partner"].search([("email", "=", f"taras@{CLIENT_DOMAIN}")])
        self.assertEqual(self.links(sent), {taras})
        answer = self.deliver(
            self.corpus.reply(sent_raw, sender=("Тарас", f"t.shevchuk@{CLIENT_DOMAIN}"), to=SALES)
        )
        self.assertIn(taras, self.links(answer))

    def test_answer_to_mail_sent_from_the_crm(self):
        posted = self.opportunity_client.message_post(
            body="Our offer", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        raw = self.corpus.message(
            sender=("Someone New", f"new.person@{CLIENT_DOMAIN}"),
            extra_headers={"In-Reply-To": posted.message_id, "References": posted.message_id},
        )
        message = self.deliver(raw)
        self.assertEqual(self.links(message), {self.opportunity_client})

    def test_tracking_token_in_references(self):
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        token = threads.make_message_id(
            "crm.lead", self.lead_client.id, secret, "crm.example", "0a1b2c3d0a1b"
        )
        # the same signature over another record's token: found nothing
        other = threads.make_message_id(
            "crm.lead", self.opportunity_client.id, secret, "crm.example", "0a1b2c3d0a1b"
        )
        local, host = other.split("@")
        forged = f"{local.rsplit('.', 1)[0]}.{token.split('@')[0].rsplit('.', 1)[1]}@{host}"
        good = self.deliver(
            self.corpus.message(
                sender=("X", f"x1@{CLIENT_DOMAIN}"), extra_headers={"References": token}
            )
        )
        bad = self.deliver(
            self.corpus.message(
                sender=("Y", f"y1@{CLIENT_DOMAIN}"), extra_headers={"References": forged}
            )
        )
        self.assertEqual(self.links(good), {self.lead_client})
        self.assertNotIn(self.opportunity_client, self.links(bad))

    def test_original_and_reply_in_one_batch(self):
        first = self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        reply = self.corpus.reply(first, sender=("Marco", f"marco2@{CLIENT_DOMAIN}"), to=SALES)
        original, answer = self.deliver(first, reply).sorted("date")
        self.assertEqual((self.links(answer)), (self.links(original)))

    # -- what users see ------------------------------------------------------------------------
    def test_followers_notified_clients_never(self):
        self.opportunity_client.message_subscribe(
            partner_ids=(self.contact_client | self.user_sales_leads.partner_id).ids
        )
        self.second_deal.active = False
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        entry = message.link_ids.filtered(lambda link: link.lead_id).mail_message_id
        notified = entry.notification_ids.res_partner_id
        self.assertIn(self.user_sales_leads.partner_id, notified)
        self.assertNotIn(self.contact_client, notified)
        # the mail's explanation says who was told, followers included, as Odoo told them
        said = self.env["mailbox.route.explainer"]._lines(message)
        told = [line for line in said if line.startswith("Told as followers of ")]
        deal, follower = self.opportunity_client.display_name, self.user_sales_leads.name
        self.assertEqual(told, [f"Told as followers of {deal}: {follower}."], said)
        clients = self.contact_client | self.company_client
        self.assertFalse(self.env["mail.mail"].search([("recipient_ids", "in", clients.ids)]))

    def test_a_client_mail_is_told_once(self):
        """A mail linked to a contact, its company and a deal, all three followed by the
        same colleague, makes one notification for them and one for the deal's responsible
        (the entry on the deal; no second "activity assigned" one), and is on all three
        cards."""
        for record in (self.contact_client, self.company_client, self.opportunity_client):
            record.message_subscribe(partner_ids=self.user_sales_leads.partner_id.ids)
        self.second_deal.active = False
        self.env["mail.notification"].search([]).unlink()
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        self.assertEqual(len(message.link_ids.mail_message_id), 3)
        notified = self.env["mail.notification"].search(
            [("mail_message_id", "in", message.link_ids.mail_message_id.ids)]
        )
        self.assertEqual(
            sorted(notified.res_partner_id.ids),
            sorted((self.user_sales_leads | self.user_sales_salesman).partner_id.ids),
        )
        self.assertEqual(notified.mail_message_id.model, "crm.lead")
        self.assertEqual(message.activity_id.user_id, self.user_sales_salesman)
        self.assertFalse(
            self.env["mail.message"].search(
                [
                    ("model", "=", "crm.lead"),
                    ("res_id", "=", self.opportunity_client.id),
                    ("mail_activity_type_id", "!=", False),
                    ("partner_ids", "in", self.user_sales_salesman.partner_id.ids),
                ]
            ),
            "no separate 'activity assigned' message",
        )

    def test_mark_processed_from_the_mail_or_the_card(self):
        self.second_deal.active = False
        first, second = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email)),
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email)),
        )
        self.assertTrue(first.pending and second.pending)
        first.with_user(self.user_sales_salesman).action_mark_processed()
        self.assertTrue(first.processed)
        self.assertFalse(first.pending)
        second.activity_id.with_user(self.user_sales_salesman).action_done()  # from the card
        self.assertTrue(second.processed)
        self.assertEqual(
            self.env["mailbox.message"].search(
                [("pending", "=", True), ("id", "in", (first | second).ids)]
            ),
            self.env["mailbox.message"],
        )

    def test_relink_adds_only_what_is_new(self):
        message = self.deliver(self.corpus.message(sender=("Giulia", "giulia@private.example")))
        lead = self.leads_from("giulia@private.example")
        self.assertEqual(self.links(message), {lead})
        entries = self.env["mail.message"].search_count([("message_type", "=", "email")])
        activities = self.env["mail.activity"].search_count([])
        # the address is added to the contact; re-link finds it
        self.contact_client.extra_email_ids = [(0, 0, {"email": "giulia@private.example"})]
        for _round in range(2):
            message.with_user(self.user_sales_salesman).action_relink()
        self.assertIn(self.contact_client, self.links(message))
        self.assertEqual(len(message.link_ids), len(self.links(message)))
        new_links = len(message.link_ids) - 1
        self.assertEqual(
            self.env["mail.message"].search_count([("message_type", "=", "email")]),
            entries + new_links,
        )
        self.assertEqual(self.env["mail.activity"].search_count([]), activities)
        self.assertEqual(self.leads_from("giulia@private.example"), lead)  # nothing created

    def test_relink_from_the_mailbox(self):
        self.mailbox.incoming_unknown_action = "none"
        message = self.deliver(self.corpus.message(sender=("Z", f"zeta@{CLIENT_DOMAIN}")))
        self.assertEqual(message.state, "new")
        partner = self.env["res.partner"].create({"name": "Zeta", "email": f"zeta@{CLIENT_DOMAIN}"})
        self.mailbox.action_relink()
        self.assertEqual(message.state, "new", "re-linking a mailbox runs in the background")
        self.assertTrue(self.mailbox.job_progress)
        self.env["mailbox.sync"].run_jobs()
        self.assertEqual(message.state, "linked")
        self.assertEqual(self.links(message), {partner})

    def test_server_action_runs_on_every_stored_mail(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Tag",
                "model_id": self.env.ref("mail_crm_link.model_mailbox_message").id,
                "state": "code",
                "code": "records.sudo().write({'link_note': 'hook ran on %s' % records.mail_kind})",
            }
        )
        self.mailbox.server_action_id = action
        uid = 5000
        items = [({"imap_uid": uid, "uidvalidity": 1}, self.corpus.message(), None)]
        message = self.env["mailbox.message.store"]._store_batch(self.mailbox, self.inbox, items)
        self.env["mailbox.crm.linker"]._link_safely(message)
        self.assertEqual(message.link_note, "hook ran on client")
        self.assertEqual(message.state, "linked")  # after the policy

    def test_lead_conversion_and_merge_carry_the_links(self):
        message = self.deliver(self.corpus.message(sender=("Olena", self.lead_client.email_from)))
        self.lead_client.convert_opportunity(self.contact_client)
        self.assertEqual(self.lead_client.type, "opportunity")
        self.assertEqual(self.links(message), {self.lead_client})
        both = self.deliver(self.corpus.message(sender=("Olena", self.lead_client.email_from)))
        duplicate = self.env["crm.lead"].create(
            {"name": "Duplicate", "email_from": "dup@client.example"}
        )
        self.env["mailbox.message.link"].create(
            [
                {"message_id": both.id, "lead_id": duplicate.id, "link_type": "manual"},
                {"message_id": message.id, "lead_id": duplicate.id, "link_type": "manual"},
            ]
        )
        merged = (self.lead_client | duplicate)._merge_opportunity(auto_unlink=True)
        self.assertEqual(merged, self.lead_client)
        self.assertFalse(duplicate.exists())
        links = self.env["mailbox.message.link"].search([("lead_id", "=", merged.id)])
        self.assertEqual(sorted(links.message_id.ids), sorted((message | both).ids))  # once each

    def test_linking_failure_keeps_the_mail(self):
        with (
            patch.object(
                type(self.env["mailbox.crm.linker"]),
                "_link",
                side_effect=RuntimeError("boom"),
            ),
            mute_logger("odoo.addons.mail_crm_link.services.crm_linker"),
        ):
            raw = self.corpus.message(sender=("Giulia", self.contact_client.email))
            items = [({"imap_uid": 7000, "uidvalidity": 1}, raw, None)]
            message = self.env["mailbox.message.store"]._store_batch(
                self.mailbox, self.inbox, items
            )
            self.env["mailbox.crm.linker"]._link_safely(message)
        self.assertTrue(message.exists())
        self.assertEqual(message.state, "new")
        self.assertIn("boom", message.link_note)
        message.action_relink()
        self.assertEqual(message.state, "linked")

    def test_busy_new_address_defers_the_mail(self):
        """Another worker holds the claim of an address (it is creating its record): this
        worker neither waits nor creates; the mail is deferred, then linked once the other
        worker is done. (Across real processes: tests/test_real_commits.)"""
        address = f"race@{CLIENT_DOMAIN}"
        items = [
            ({"imap_uid": 8000, "uidvalidity": 1}, self.corpus.message(sender=("R", address)), None)
        ]
        message = self.env["mailbox.message.store"]._store_batch(self.mailbox, self.inbox, items)
        with self.registry.cursor() as other:
            other.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADDRESS_LOCK_NAMESPACE, address]
            )
            deferred = self.env["mailbox.crm.linker"]._link_safely(message)
            self.assertEqual(deferred, message)
            self.assertTrue(message.link_deferred)
            self.assertEqual(message.state, "new")
            self.assertFalse(self.leads_from(address))
            other.rollback()
        self.assertFalse(self.env["mailbox.crm.linker"]._link_safely(message))
        self.assertFalse(message.link_deferred)
        self.assertEqual(message.state, "linked")
        self.assertEqual(len(self.leads_from(address)), 1)


@tagged("post_install", "-at_install")
class TestLinkRights(LinkingCase):
    def test_links_follow_lead_rights(self):
        self.second_deal.active = False
        message = self.deliver(self.corpus.message(sender=("Olena", self.lead_client.email_from)))
        link = message.link_ids
        self.assertEqual(link.lead_id, self.lead_client)  # assigned to user_sales_leads
        Link = self.env["mailbox.message.link"]
        self.assertFalse(Link.with_user(self.user_sales_salesman).search([("id", "=", link.id)]))
        self.assertEqual(Link.with_user(self.user_sales_leads).search([("id", "=", link.id)]), link)
        self.assertEqual(
            Link.with_user(self.user_sales_manager).search([("id", "=", link.id)]), link
        )
        with self.assertRaises(AccessError):
            Link.with_user(self.user_no_crm).search([])

    def test_relink_at_every_sales_level(self):
        self.mailbox.incoming_unknown_action = "none"
        message = self.deliver(self.corpus.message(sender=("Q", f"q@{CLIENT_DOMAIN}")))
        partner = self.env["res.partner"].create({"name": "Q", "email": f"q@{CLIENT_DOMAIN}"})
        for user in (self.user_sales_salesman, self.user_sales_leads, self.user_sales_manager):
            with self.subTest(user=user.login):
                self.assertTrue(message.with_user(user).action_relink())
                self.assertEqual(self.links(message), {partner})

    def test_relink_refused_without_sales_rights_or_mailbox_access(self):
        message = self.deliver(self.corpus.message(sender=("Q", f"q2@{CLIENT_DOMAIN}")))
        with self.assertRaises(AccessError):
            message.with_user(self.user_no_crm).action_relink()
        self.mailbox.mailbox_access = "personal"
        with self.assertRaises(AccessError):
            message.with_user(self.user_sales_salesman).action_relink()
        message.with_user(self.owner).action_relink()


class TestLinkingEndToEnd(MailCrmLinkCommon):
    """Mail APPENDed into a real Dovecot mailbox → sync → records and links."""

    def test_imap_inbox_and_sent_in_three_languages(self):
        anna = self.env["res.partner"].create(
            {
                "name": "Анна Смирнова",
                "email": f"anna.smirnova@{CLIENT_DOMAIN}",
                "user_id": self.user_sales_salesman.id,
            }
        )
        mailbox = self.make_mailbox()
        login = mailbox.user
        corpus = self.corpus
        inbox_mail = [
            corpus.message(
                sender=("Олена Коваленко", f"olena.k@{CLIENT_DOMAIN}"),
                subject="Запит комерційної пропозиції",
                lang="uk",
                charset="windows-1251",
            ),
            corpus.message(
                sender=("Анна Смирнова", anna.email),
                subject="Счёт на оплату",
                lang="ru",
                charset="koi8-r",
            ),
            corpus.message(
                sender=("Giulia Rossi", self.contact_client.email),
                subject="Consegna a Milano — più veloce?",
                lang="it",
                charset="utf-8",
                attachments=["Preventivo_città.pdf"],
            ),
            corpus.auto_reply(f"sales@{OUR_DOMAIN}"),
            corpus.mailing_list(),
        ]
        sent_raw = corpus.message(
            sender=SALES,
            to=("Francesca Esposito", f"francesca.e@{CLIENT_DOMAIN}"),
            subject="Offerta",
            lang="it",
        )
        self.dovecot.append_many(login, inbox_mail)
        self.dovecot.append(login, sent_raw, folder="Sent")
        result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertEqual(result["new"], 6)

        lead = self.env["crm.lead"].search([("email_normalized", "=", f"olena.k@{CLIENT_DOMAIN}")])
        self.assertEqual(lead.name, "Запит комерційної пропозиції")
        self.assertEqual(lead.contact_name, "Олена Коваленко")
        anna_deal = self.env["crm.lead"].search([("partner_id", "=", anna.id)])
        self.assertEqual(anna_deal.type, "opportunity")  # a known client without open deal
        self.assertEqual(anna_deal.name, "Счёт на оплату")
        self.assertEqual(anna_deal.user_id, self.user_sales_salesman)
        francesca = self.env["res.partner"].search([("email", "=", f"francesca.e@{CLIENT_DOMAIN}")])
        self.assertEqual(francesca.name, "Francesca Esposito")
        giulia_mail = self.stored(mailbox, sender=self.contact_client.email)
        self.assertEqual(
            {link.lead_id or link.partner_id for link in giulia_mail.link_ids},
            {self.contact_client, self.company_client, self.opportunity_client},
        )
        entry = giulia_mail.link_ids.filtered("lead_id").mail_message_id
        self.assertEqual(entry.attachment_ids.mapped("name"), ["Preventivo_città.pdf"])
        self.assertEqual(
            sorted(self.stored(mailbox, state="ignored").mapped("mail_kind")),
            ["auto_reply", "mailing_list"],
        )

        # Francesca's colleague answers the mail sent from Outlook: same records, no new lead
        self.dovecot.append(
            login,
            corpus.reply(sent_raw, sender=("Luca Romano", f"luca.r@{CLIENT_DOMAIN}"), to=SALES),
        )
        entries_before = self.env["mail.message"].search_count([("message_type", "=", "email")])
        self.sync(mailbox)
        reply = self.stored(mailbox, sender=f"luca.r@{CLIENT_DOMAIN}")
        self.assertEqual(reply.link_ids.partner_id, francesca)
        self.assertFalse(
            self.env["crm.lead"].search([("email_normalized", "=", f"luca.r@{CLIENT_DOMAIN}")])
        )
        # a sync with nothing new and a re-link change nothing
        self.sync(mailbox)
        mailbox.action_relink()
        self.env["mailbox.sync"].run_jobs()
        self.assertEqual(
            self.env["mail.message"].search_count([("message_type", "=", "email")]),
            entries_before + 1,
        )

        # what each sales level sees through the links
        Link = self.env["mailbox.message.link"]
        olena_link = self.stored(mailbox, sender=f"olena.k@{CLIENT_DOMAIN}").link_ids
        anna_link = self.stored(mailbox, sender=anna.email).link_ids.filtered("lead_id")
        lead.user_id = self.user_sales_leads  # the lead belongs to someone else now
        own = Link.with_user(self.user_sales_salesman).search([("mailbox_id", "=", mailbox.id)])
        self.assertIn(anna_link, own)
        self.assertNotIn(olena_link, own)
        for user in (self.user_sales_leads, self.user_sales_manager):
            seen = Link.with_user(user).search([("mailbox_id", "=", mailbox.id)])
            self.assertLessEqual(olena_link | anna_link, seen)
        with self.assertRaises(AccessError):
            Link.with_user(self.user_no_crm).search([("mailbox_id", "=", mailbox.id)])

    def test_pop3_mail_is_linked_too(self):
        mailbox = self.make_mailbox(protocol="pop", import_window="all")
        self.dovecot.append(
            mailbox.user,
            self.corpus.message(sender=("Ірина Бондаренко", f"iryna@{CLIENT_DOMAIN}"), lang="uk"),
        )
        self.sync(mailbox)
        message = self.stored(mailbox)
        self.assertEqual(message.state, "linked")
        self.assertEqual(message.link_ids.lead_id.contact_name, "Ірина Бондаренко")


class TestHistoryImport(MailCrmLinkCommon):
    def test_initial_import_is_history_then_new_mail_is_news(self):
        """Mail of the initial import is linked and in the chatter, without notifications
        or Email activities; mail arriving afterwards gets both."""
        self.opportunity_client.message_subscribe(partner_ids=self.user_sales_leads.partner_id.ids)
        mailbox = self.make_mailbox(import_window="all", deal_link_mode="all")
        sender = ("Giulia Rossi", self.contact_client.email)
        self.dovecot.append_many(
            mailbox.user, [self.corpus.message(sender=sender) for _i in range(3)]
        )
        self.sync(mailbox, batch_size=2)
        old = self.stored(mailbox)
        self.assertEqual(len(old), 3)
        self.assertEqual(set(old.mapped("state")), {"linked"})
        entries = old.link_ids.mail_message_id
        self.assertEqual(len(entries), len(old.link_ids))
        self.assertEqual(set(entries.mapped("message_type")), {"email"})
        self.assertEqual(entries.mapped("attachment_ids"), old.attachment_ids)
        self.assertFalse(entries.notification_ids)
        self.assertFalse(old.activity_id)
        self.dovecot.append(mailbox.user, self.corpus.message(sender=sender))
        self.sync(mailbox)
        new = self.stored(mailbox) - old
        self.assertTrue(new.activity_id)
        entry = new.link_ids.filtered("lead_id").mail_message_id
        self.assertIn(self.user_sales_leads.partner_id, entry.notification_ids.res_partner_id)

    def test_history_entries_equal_orm_entries(self):
        """The chatter entries of an import are written in one SQL statement: each row is
        the one ``mail.message.create`` would write for the same values (every stored
        column, attachments shared), and the card's chatter shows it at once."""
        mailbox = self.make_mailbox(import_window="all")
        sender = ("Giulia Rossi", self.contact_client.email)
        self.dovecot.append(
            mailbox.user, self.corpus.message(sender=sender, attachments=["offerta.pdf"])
        )
        self.sync(mailbox)
        message = self.stored(mailbox)
        self.assertTrue(message.history)
        link = message.link_ids.filtered(lambda lk: lk.partner_id == self.contact_client)
        ours = link.mail_message_id
        self.assertIn(ours, self.contact_client.message_ids)
        self.assertTrue(ours.attachment_ids)
        orm = (
            self.env["mail.message"]
            .sudo()
            .create(
                {
                    "model": "res.partner",
                    "res_id": self.contact_client.id,
                    "record_name": self.contact_client.display_name,
                    "body": message.body_html,
                    "subject": message.subject,
                    "message_type": "email",
                    "subtype_id": self.env.ref("mail.mt_comment").id,
                    "email_from": message.email_from,
                    "reply_to": message.reply_to or message.email_from,
                    "author_id": ours.author_id.id,
                    "message_id": message.message_id,
                    "date": message.date,
                    "attachment_ids": [(6, 0, message.attachment_ids.ids)],
                    "mcl_message_id": message.id,
                    **compat.delivered_recipients(message.email_to, message.email_cc),
                }
            )
        )
        self.env.flush_all()
        self.env.invalidate_all()
        stored = [
            name
            for name, field in self.env["mail.message"]._fields.items()
            if (field.store or field.type == "many2many")
            and name not in ("id", "create_date", "write_date")
        ]
        self.assertEqual(ours.read(stored)[0] | {"id": 0}, orm.read(stored)[0] | {"id": 0})


class TestGeneratedTextInTheReadersLanguage(LinkingCase):
    def test_activity_is_written_in_the_responsibles_language(self):
        """The sync runs in English (the cron's user); the Email activity it writes is read
        by the deal's responsible, in their language."""
        self.env["res.lang"]._activate_lang("uk_UA")
        self.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            ["uk_UA"]
        )
        self.user_sales_salesman.lang = "uk_UA"
        self.second_deal.active = False
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email), subject="")
        )
        activity = message.activity_id
        self.assertEqual(activity.user_id, self.user_sales_salesman)
        self.assertIn("Вхідний лист від", str(activity.note))
        self.assertEqual(activity.summary, "Ел. пошта")
