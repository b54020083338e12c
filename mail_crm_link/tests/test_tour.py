from odoo.tests import tagged

from .. import compat
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkTourCase, use_savepoints_for_commits
from .corpus import Corpus
from .dovecot import get_server
from .smtp_sink import get_sink


@tagged("post_install", "-at_install")
class TestTours(MailCrmLinkTourCase):
    def test_tour_crm_and_mailboxes(self):
        """Chromium opens the CRM app, finds a configured mailbox under Configuration and
        opens it: its port reads 10143, not "10,143"."""
        self.env["fetchmail.server"].create(
            {
                "name": "Sales mailbox (tour)",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 10143,
                "user": "sales@mycompany.example",
                "password": "x",
                "crm_link_mode": "auto",
            }
        )
        self.start_tour("/odoo", "mail_crm_link_open_mailboxes", login="admin")


@tagged("post_install", "-at_install")
class TestCardTours(MailCrmLinkTourCase):
    """The five things a sales user does with client mail in the web client, in Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.dovecot = get_server()
        cls.login = cls.dovecot.add_user(f"tours.{cls.__name__.lower()}@{OUR_DOMAIN}")
        cls.mailbox = env["fetchmail.server"].create(
            {
                "name": "Sales mailbox",
                "server_type": "imap",
                "server": cls.dovecot.host,
                "port": cls.dovecot.port_imap,
                "connection_security": "none",
                "user": cls.login,
                "password": cls.dovecot.users[cls.login],
                "email_address": f"sales@{OUR_DOMAIN}",
                "mail_server_id": env["ir.mail_server"].create(get_sink().mail_server_values()).id,
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "incoming_unknown_action": "none",
                "state": "done",
            }
        )
        cls.inbox, cls.sent = env["mailbox.folder"].create(
            [
                {"mailbox_id": cls.mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"},
                {"mailbox_id": cls.mailbox.id, "name": "Sent", "label": "Sent", "role": "sent"},
            ]
        )
        cls.giulia = env["res.partner"].create(
            {"name": "Giulia Rossi", "email": f"giulia.rossi@{CLIENT_DOMAIN}"}
        )
        cls.deal = env["crm.lead"].create(
            {
                "name": "Client Industries: 40 units",
                "type": "opportunity",
                "partner_id": cls.giulia.id,
                "user_id": env.ref("base.user_admin").id,
            }
        )
        cls.corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN)

    def store(self, sender):
        raw = self.corpus.message(sender=sender, subject="Richiesta di offerta", lang="it")
        message = self.env["mailbox.message.store"]._store_batch(
            self.mailbox, self.inbox, [({"imap_uid": 1, "uidvalidity": 1}, raw, None)]
        )
        self.env["mailbox.crm.linker"]._link_safely(message)
        return message

    def test_link_by_hand(self):
        message = self.store(("Marco Bianchi", f"marco.bianchi@{CLIENT_DOMAIN}"))
        self.assertFalse(message.link_ids)
        url = f"/odoo/action-mail_crm_link.mailbox_message_action/{message.id}"
        self.start_tour(url, "mail_crm_link_link_by_hand", login="admin")
        self.assertIn(self.giulia, message.link_ids.partner_id)
        self.assertEqual(message.link_ids.link_type, "manual")

    def test_create_lead_from_mail(self):
        message = self.store(("Marco Bianchi", f"marco.bianchi@{CLIENT_DOMAIN}"))
        url = f"/odoo/action-mail_crm_link.mailbox_message_action/{message.id}"
        self.start_tour(url, "mail_crm_link_create_lead", login="admin")
        lead = message.link_ids.lead_id
        self.assertEqual(lead.name, "Richiesta di offerta")
        self.assertEqual(lead.contact_name, "Marco Bianchi")

    def test_mark_processed_from_the_card(self):
        message = self.store(("Giulia Rossi", self.giulia.email))
        self.assertEqual(message.activity_id.res_id, self.deal.id)
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_mark_processed",
            login="admin",
        )
        self.assertTrue(message.processed)
        self.assertFalse(message.pending)

    def test_reply_from_the_card(self):
        self.store(("Giulia Rossi", self.giulia.email))
        sent_before = self.dovecot.count(self.login, "Sent")
        sink = get_sink()
        sink.reset()
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_reply_from_card",
            login="admin",
        )
        self.assertFalse(sink.messages)  # queued in the request, not sent inside it
        reply = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("direction", "=", "outgoing")]
        )
        self.assertEqual(reply.send_state, "queued")
        self.assertIn(self.deal, reply.link_ids.lead_id)  # on the card at once
        # the outbox, as its post-commit hook or its cron runs it
        use_savepoints_for_commits(self)
        with compat.real_smtp(self.env):  # Odoo talks SMTP to the listener
            self.env["mailbox.outbox"]._send_queued()
        self.assertEqual(reply.send_state, "sent")
        self.assertEqual(len(sink.messages), 1)
        self.assertEqual(sink.messages[0].rcpt_tos, [self.giulia.email])
        self.assertIn(
            "Ecco il preventivo aggiornato", sink.messages[0].raw.decode(errors="replace")
        )
        self.assertEqual(self.dovecot.count(self.login, "Sent"), sent_before + 1)
        self.assertEqual(self.deal.mcl_message_count, 2)

    def test_remove_from_the_card(self):
        message = self.store(("Giulia Rossi", self.giulia.email))
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_remove_from_card",
            login="admin",
        )
        self.assertNotIn(self.deal, message.link_ids.lead_id)
        self.assertIn(self.giulia, message.link_ids.partner_id)  # still on the contact
        self.assertTrue(message.exists())

    def test_timeline_reply(self):
        """The deal's email timeline (issue 14): the client's mail shown as received,
        unfolded, answered from the timeline with the original quoted; the answer appears
        on the timeline as sent by the user, queued."""
        message = self.store(("Giulia Rossi", self.giulia.email))
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_timeline_reply",
            login="admin",
        )
        reply = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("direction", "=", "outgoing")]
        )
        self.assertEqual(reply.subject, "Re: Richiesta di offerta")
        self.assertEqual(reply.in_reply_to, message.message_id)
        self.assertEqual(reply.send_user_id, self.env.ref("base.user_admin"))
        self.assertIn("Ecco il preventivo aggiornato", reply.body_html)
        self.assertTrue(message.pending)  # replying keeps it open by default

    def test_timeline_reply_as_salesman(self):
        """The same, as a salesman with "own documents only" on his own deal."""
        salesman = self.env["res.users"].create(
            {
                "name": "Sara Sales",
                "login": "sara.timeline",
                "password": "sara.timeline",
                "email": f"sara@{OUR_DOMAIN}",
                compat.USER_GROUPS: [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        self.deal.user_id = salesman
        message = self.store(("Giulia Rossi", self.giulia.email))
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_timeline_reply",
            login="sara.timeline",
        )
        reply = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("direction", "=", "outgoing")]
        )
        self.assertEqual(reply.send_user_id, salesman)
        self.assertEqual(reply.in_reply_to, message.message_id)

    def test_client_mail_day_as_salesman(self):
        """The whole flow of a client mail as its responsible, a salesman with "own
        documents only": told in the messaging menu, one click to the deal, the mail on its
        timeline, answered with the original quoted, the answer shown as his, then marked
        processed (issue 14, "Done when")."""
        salesman = self.env["res.users"].create(
            {
                "name": "Sara Sales",
                "login": "sara.day",
                "password": "sara.day",
                "email": f"sara@{OUR_DOMAIN}",
                "notification_type": "inbox",
                compat.USER_GROUPS: [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        self.client_mail_day(salesman, "sara.day")

    def test_client_mail_day_as_admin(self):
        admin = self.env.ref("base.user_admin")
        admin.notification_type = "inbox"
        self.client_mail_day(admin, "admin")

    def client_mail_day(self, salesman, login):
        self.deal.user_id = salesman
        message = self.store(("Giulia Rossi", self.giulia.email))
        told = self.env["mail.notification"].search(
            [
                ("res_partner_id", "=", salesman.partner_id.id),
                ("mail_message_id", "in", message.link_ids.mail_message_id.ids),
            ]
        )
        self.assertEqual(len(told), 1, "told once")
        self.assertEqual(told.notification_type, "inbox")
        self.assertEqual(
            (told.mail_message_id.model, told.mail_message_id.res_id), ("crm.lead", self.deal.id)
        )
        self.start_tour("/odoo", "mail_crm_link_client_mail_day", login=login)
        reply = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("direction", "=", "outgoing")]
        )
        self.assertEqual(reply.send_user_id, salesman)  # the timeline's author of the reply
        self.assertEqual(reply.in_reply_to, message.message_id)
        self.assertTrue(message.processed)
        self.assertFalse(message.pending)
        self.assertFalse(message.activity_id)

    def test_timeline_in_ukrainian(self):
        """A Ukrainian salesman's deal: the timeline and the chatter in Ukrainian, no English
        text of ours (issue 14, point 9)."""
        self.env["res.lang"]._activate_lang("uk_UA")
        self.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            ["uk_UA"]
        )
        salesman = self.env["res.users"].create(
            {
                "name": "Олена Продаж",
                "login": "olena.uk",
                "password": "olena.uk",
                "email": f"olena@{OUR_DOMAIN}",
                "lang": "uk_UA",
                compat.USER_GROUPS: [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        self.deal.user_id = salesman
        message = self.store(("Giulia Rossi", self.giulia.email))
        self.assertIn("Вхідний лист від", str(message.activity_id.note))
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_timeline_uk",
            login="olena.uk",
        )

    def test_created_lead_in_the_pipeline_with_leads_off(self):
        """The default policy creates a lead for an unknown sender; with Odoo's "Leads"
        setting off (its default) it is an opportunity the pipeline shows (issue 14, 1)."""
        self.env["res.config.settings"].create({"group_use_lead": False}).execute()
        lead = self.store_unknown("Preventivo per 12 stampanti")
        self.assertEqual(lead.type, "opportunity")
        self.start_tour("/odoo/crm", "mail_crm_link_lead_in_pipeline", login="admin")

    def test_created_lead_in_the_leads_menu_with_leads_on(self):
        self.env["res.config.settings"].create({"group_use_lead": True}).execute()
        lead = self.store_unknown("Preventivo per 30 monitor")
        self.assertEqual(lead.type, "lead")
        self.start_tour("/odoo/crm", "mail_crm_link_lead_in_leads_menu", login="admin")

    def store_unknown(self, subject):
        """A client mail from a sender the CRM does not know, stored and linked as the sync
        does, through a mailbox owned by the administrator with the default policy."""
        self.mailbox.write(
            {"incoming_unknown_action": "lead", "owner_id": self.env.ref("base.user_admin").id}
        )
        address = f"luca.verdi@{CLIENT_DOMAIN}"
        raw = self.corpus.message(sender=("Luca Verdi", address), subject=subject, lang="it")
        message = self.env["mailbox.message.store"]._store_batch(
            self.mailbox, self.inbox, [({"imap_uid": 7, "uidvalidity": 1}, raw, None)]
        )
        self.env["mailbox.crm.linker"]._link_safely(message)
        lead = message.link_ids.lead_id
        self.assertEqual(lead.name, subject)
        self.assertEqual(lead.user_id, self.env.ref("base.user_admin"))
        return lead


@tagged("post_install", "-at_install")
class TestSalesmanTours(MailCrmLinkTourCase):
    """The mail list, "Create Lead" and a template on a deal, as a salesman with "own documents
    only" rights, in Chromium (issue 14)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.salesman = env["res.users"].create(
            {
                "name": "Sara Sales",
                "login": "sara_tours",
                "password": "sara_tours",
                "email": f"sara@{OUR_DOMAIN}",
                compat.USER_GROUPS: [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        cls.mailbox = env["fetchmail.server"].create(
            {
                "name": "Sales mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "sales",
                "password": "unused",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "incoming_unknown_action": "none",
            }
        )
        cls.inbox = env["mailbox.folder"].create(
            {"mailbox_id": cls.mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"}
        )
        company = env["res.partner"].create({"name": "Client Industries", "is_company": True})
        cls.giulia = env["res.partner"].create(
            {
                "name": "Giulia Rossi",
                "email": f"giulia.rossi@{CLIENT_DOMAIN}",
                "parent_id": company.id,
            }
        )
        cls.deal = env["crm.lead"].create(
            {
                "name": "Client Industries: 40 units",
                "type": "opportunity",
                "partner_id": cls.giulia.id,
                "user_id": cls.salesman.id,
            }
        )
        cls.other_deal = env["crm.lead"].create(  # a colleague's: never named to Sara
            {
                "name": "Client Industries: secret project",
                "type": "opportunity",
                "partner_id": company.id,
                "user_id": env.ref("base.user_admin").id,
                "active": False,
            }
        )
        raw = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN).message(
            sender=("Giulia Rossi", cls.giulia.email), subject="Richiesta di offerta", lang="it"
        )
        cls.message = env["mailbox.message.store"]._store_batch(
            cls.mailbox, cls.inbox, [({"imap_uid": 1, "uidvalidity": 1}, raw, None)]
        )
        env["mailbox.crm.linker"]._link_safely(cls.message)
        cls.other_deal.active = True
        cls.message.action_link_record("crm.lead", cls.other_deal.id)

    def test_mail_list_names_and_tags(self):
        self.start_tour(
            "/odoo/action-mail_crm_link.mailbox_message_action",
            "mail_crm_link_list_tags",
            login="sara_tours",
        )

    def test_create_lead_offers_the_open_deal(self):
        leads_before = self.env["crm.lead"].search_count([])
        self.start_tour(
            f"/odoo/action-mail_crm_link.mailbox_message_action/{self.message.id}",
            "mail_crm_link_create_lead_offers_open_ones",
            login="sara_tours",
        )
        self.assertEqual(self.env["crm.lead"].search_count([]), leads_before)
        self.assertIn(self.deal, self.message.link_ids.lead_id)

    def test_file_downloaded_from_the_files_list(self):
        """The deal's Files list: the full name, the size with its unit, and Download gives
        the salesman the file's bytes (the tour fetches the address the web client
        downloads from, with his session)."""
        content = b"%PDF-1.4 listino " * 300
        name = "Listino prezzi 2026 - versione definitiva.pdf"
        raw = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN).message(
            sender=("Giulia Rossi", self.giulia.email),
            subject="Listino",
            attachments=[(name, content, "application/pdf")],
            msgid=f"<listino-2026@{CLIENT_DOMAIN}>",  # not the class's first mail again
        )
        self.other_deal.active = False  # one open deal: the mail goes on it
        message = self.env["mailbox.message.store"]._store_batch(
            self.mailbox, self.inbox, [({"imap_uid": 2, "uidvalidity": 1}, raw, None)]
        )
        self.env["mailbox.crm.linker"]._link_safely(message)
        self.other_deal.active = True
        self.assertIn(self.deal, message.link_ids.lead_id)
        self.start_tour(
            f"/odoo/action-crm.crm_lead_action_pipeline/{self.deal.id}",
            "mail_crm_link_file_download",
            login="sara_tours",
        )
        # and the same address, outside the browser, for the same user
        file = (
            self.env["mailbox.message.file"]
            .with_user(self.salesman)
            .search([("name", "=", name), ("lead_id", "=", self.deal.id)])
        )
        self.authenticate("sara_tours", "sara_tours")
        response = self.url_open(file.action_download()["url"])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, content)

    def test_template_on_a_deal(self):
        self.start_tour(
            "/odoo/action-mail_crm_link.mail_template_action_crm/new",
            "mail_crm_link_template_on_deal",
            login="sara_tours",
        )
        template = self.env["mail.template"].search([("name", "=", "Seguito dell'offerta")])
        self.assertEqual(template.model, "crm.lead")
        self.assertEqual(template.user_id, self.salesman)
        offered = (
            self.env["mail.template"]
            .with_user(self.salesman)
            .search([("mcl_crm", "=", True), ("model", "=", "crm.lead")])
        )
        self.assertIn(template, offered)
