"""What a sales user meets in the web client (issue 14, points 3 to 6), checked on the server
at each sales right level: the mail list's link tags, the buttons a user may use, "Create
Lead" offering the client's open leads, templates for leads and deals, and files."""

import json

from lxml import etree

from odoo.exceptions import AccessError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .. import compat
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkTourCase
from .corpus import Corpus
from .test_linking import LinkingCase


class TestMailList(LinkingCase):
    def setUp(self):
        super().setUp()
        self.mailbox.incoming_unknown_action = "none"
        self.message = self.deliver(
            self.corpus.message(sender=("Богдан Мельник", f"bohdan@{CLIENT_DOMAIN}"), lang="uk")
        )
        self.assertFalse(self.message.link_ids)
        for record in (
            self.contact_client,
            self.company_client,
            self.lead_client,  # a lead of user_sales_leads
            self.opportunity_client,  # a deal of user_sales_salesman
            self.second_deal,  # a deal of user_sales_leads
        ):
            self.message.action_link_record(record._name, record.id)

    def tags(self, user):
        """The tags of the list as the web client reads them (names included)."""
        spec = {"display_name": {}}
        names = ["link_contact_ids", "link_company_ids", "link_lead_ids", "link_deal_ids"]
        values = self.message.with_user(user).web_read(
            {**{name: {"fields": spec} for name in names}, "link_count": {}}
        )[0]
        return {name: {tag["display_name"] for tag in values[name]} for name in names}, values[
            "link_count"
        ]

    def test_tags_by_type_only_of_readable_records(self):
        tags, count = self.tags(self.user_sales_salesman)  # own documents only
        self.assertEqual(
            tags,
            {
                "link_contact_ids": {self.contact_client.display_name},
                "link_company_ids": {"Client Industries"},
                "link_lead_ids": set(),  # another salesperson's lead: not even its name
                "link_deal_ids": {"Client Industries: 40 units"},
            },
        )
        self.assertEqual(count, 3)
        tags, count = self.tags(self.user_sales_leads)  # all documents
        self.assertEqual(tags["link_lead_ids"], {"Website enquiry"})
        self.assertEqual(
            tags["link_deal_ids"], {"Client Industries: 40 units", "Client Industries: spare parts"}
        )
        self.assertEqual(count, 5)

    def test_names_instead_of_headers(self):
        message = self.message.with_user(self.user_sales_salesman)
        self.assertEqual(message.from_display, "Богдан Мельник")
        self.assertIn(f"bohdan@{CLIENT_DOMAIN}", message.email_from)  # the form keeps it
        self.assertEqual(message.to_display, "Sales")


class TestButtons(LinkingCase):
    def setUp(self):
        super().setUp()
        self.second_deal.active = False

    def test_mark_processed_shown_only_to_who_may(self):
        own = self.deliver(self.corpus.message(sender=("Giulia Rossi", self.contact_client.email)))
        other = self.deliver(self.corpus.message(sender=("Olena", self.lead_client.email_from)))
        self.assertEqual(own.activity_id.user_id, self.user_sales_salesman)
        self.assertEqual(other.activity_id.res_id, self.lead_client.id)
        salesman = self.user_sales_salesman
        self.assertTrue(own.with_user(salesman).can_process)
        self.assertFalse(other.with_user(salesman).can_process)
        self.assertTrue(other.with_user(self.user_sales_leads).can_process)
        with self.assertRaises(AccessError):  # the method checks, whatever the view shows
            other.with_user(salesman).action_mark_processed()
        self.assertFalse(other.processed)
        own.with_user(salesman).action_mark_processed()
        self.assertTrue(own.processed)
        self.assertFalse(own.with_user(salesman).can_process)  # done: the button goes

    def test_private_shown_to_the_owner_and_managers(self):
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        self.assertFalse(message.with_user(self.user_sales_salesman).can_private)
        self.assertFalse(message.with_user(self.user_sales_leads).can_private)
        self.mailbox.owner_id = self.user_sales_salesman
        self.assertTrue(message.with_user(self.user_sales_salesman).can_private)
        self.assertTrue(message.with_user(self.user_sales_manager).can_private)
        message.with_user(self.user_sales_salesman).action_toggle_private()
        self.assertTrue(message.private)

    def test_gear_menu_offers_only_what_runs(self):
        """Each entry of the Actions menu a sales user sees on a mail runs for him (Odoo runs
        a server action only for users who may write the records)."""
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        for user in (self.user_sales_salesman, self.user_sales_manager):
            bindings = (
                self.env["ir.actions.actions"].with_user(user).get_bindings("mailbox.message")
            )
            for action in bindings.get("action", []):
                if self.env["ir.actions.actions"].browse(action["id"]).type != "ir.actions.server":
                    continue
                with self.subTest(user=user.login, action=action["name"]):
                    self.env["ir.actions.server"].browse(action["id"]).with_user(user).with_context(
                        active_model="mailbox.message",
                        active_id=message.id,
                        active_ids=message.ids,
                    ).run()

    def test_send_again_shown_to_the_writer_and_managers(self):
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        message.sudo().write({"send_user_id": self.user_sales_leads.id})
        self.assertFalse(message.with_user(self.user_sales_salesman).can_resend)
        self.assertTrue(message.with_user(self.user_sales_leads).can_resend)
        self.assertTrue(message.with_user(self.user_sales_manager).can_resend)

    def test_create_lead_offers_the_open_ones_first(self):
        message = self.deliver(
            self.corpus.message(sender=("Giulia Rossi", self.contact_client.email))
        )
        salesman = self.user_sales_salesman
        self.second_deal.active = True  # the company's deal of another salesperson
        action = message.with_user(salesman).action_create_lead()
        self.assertEqual(action["res_model"], "mailbox.lead.choice")
        wizard = self.env["mailbox.lead.choice"].with_user(salesman).browse(action["res_id"])
        # only what the salesman may read is offered (not the colleague's deal)
        self.assertEqual(wizard.line_ids.lead_id, self.opportunity_client)
        leads_before = self.env["crm.lead"].search_count([])
        action = wizard.line_ids.action_link()
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("crm.lead", self.opportunity_client.id)
        )
        self.assertEqual(self.env["crm.lead"].search_count([]), leads_before)
        self.assertIn(self.opportunity_client, message.link_ids.lead_id)
        # a colleague with all documents sees both; he may still create a new one anyway
        action = message.with_user(self.user_sales_leads).action_create_lead()
        wizard = (
            self.env["mailbox.lead.choice"]
            .with_user(self.user_sales_leads)
            .browse(action["res_id"])
        )
        self.assertEqual(wizard.line_ids.lead_id, self.opportunity_client | self.second_deal)
        action = wizard.action_create_anyway()
        created = self.env["crm.lead"].browse(action["res_id"])
        self.assertNotIn(created, self.opportunity_client | self.second_deal)
        self.assertEqual(created.user_id, self.user_sales_leads)
        self.assertIn(created, message.link_ids.lead_id)

    def test_create_lead_without_open_ones_creates_at_once(self):
        message = self.deliver(self.corpus.message(sender=("Olena", self.lead_client.email_from)))
        # the lead of this address belongs to another salesperson: not offered, not named
        action = message.with_user(self.user_sales_salesman).action_create_lead()
        self.assertEqual(action["res_model"], "crm.lead")
        self.assertNotEqual(action["res_id"], self.lead_client.id)


class TestTemplatesForSalesmen(LinkingCase):
    def test_applies_to_as_a_salesman(self):
        salesman = self.user_sales_salesman
        Template = (
            self.env["mail.template"]
            .with_user(salesman)
            .with_context(default_mcl_crm=True, default_mcl_model="res.partner")
        )
        with Form(Template) as form:  # the CRM template form, as the web client fills it
            form.name = "Follow-up on a deal"
            form.mcl_model = "crm.lead"
            form.subject = "About {{ object.name }}"
        template = form.record
        self.assertEqual(template.model, "crm.lead")
        self.assertEqual(template.user_id, salesman)
        # the template is offered on his deal, and fills the composer
        Compose = self.env["mailbox.compose"].with_user(salesman)
        offered = Compose.env["mail.template"].search(
            [("mcl_crm", "=", True), ("model", "=", "crm.lead")]
        )
        self.assertIn(template, offered)
        composer = Compose.new(
            {"res_model": "crm.lead", "res_id": self.opportunity_client.id, "subject": "x"}
        )
        composer.template_id = template
        composer._onchange_template_id()
        self.assertEqual(composer.subject, "About Client Industries: 40 units")
        # and it reads back in the form as a salesman (no access to ir.model needed)
        with Form(template.with_user(salesman)) as form:
            self.assertEqual(form.mcl_model, "crm.lead")
            form.mcl_model = "res.partner"
        self.assertEqual(template.model, "res.partner")


@tagged("post_install", "-at_install")
class TestFilesDownload(MailCrmLinkTourCase):
    """A file of a mail, downloaded through the Files list's action as a salesman (HTTP)."""

    def test_salesman_downloads_and_previews_a_file(self):
        env = self.env
        salesman = env["res.users"].create(
            {
                "name": "Sara Sales",
                "login": "sara_files",
                "password": "sara_files",
                "email": f"sara@{OUR_DOMAIN}",
                compat.USER_GROUPS: [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        mailbox = env["fetchmail.server"].create(
            {
                "name": "Files mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "files",
                "password": "unused",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "incoming_unknown_action": "none",
            }
        )
        inbox = env["mailbox.folder"].create(
            {"mailbox_id": mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"}
        )
        client = env["res.partner"].create(
            {"name": "Marco Bianchi", "email": f"marco@{CLIENT_DOMAIN}"}
        )
        env["crm.lead"].create(
            {
                "name": "Marco: offer",
                "type": "opportunity",
                "partner_id": client.id,
                "user_id": salesman.id,
            }
        )
        content = b"%PDF-1.4 offer " * 500
        name = "Offerta commerciale 2026 - versione definitiva.pdf"
        raw = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN).message(
            sender=("Marco Bianchi", client.email),
            attachments=[(name, content, "application/pdf")],
        )
        message = env["mailbox.message.store"]._store_batch(
            mailbox, inbox, [({"imap_uid": 1, "uidvalidity": 1}, raw, None)]
        )
        env["mailbox.crm.linker"]._link_safely(message)
        files = env["mailbox.message.file"].with_user(salesman).search([("name", "=", name)])
        self.assertTrue(files)
        file = files[0]
        self.assertEqual(file.name, name)  # the full name
        self.assertRegex(file.file_size_human, r"^\d+(\.\d+)? Kb$")
        self.authenticate("sara_files", "sara_files")
        download = file.action_download()
        response = self.url_open(download["url"])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, content)
        self.assertIn("attachment", response.headers.get("Content-Disposition", ""))
        preview = file.action_preview()
        self.assertEqual(preview["target"], "new")
        response = self.url_open(preview["url"])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers.get("Content-Type"), "application/pdf")
        # someone who may not read the mail gets nothing
        self.authenticate("admin", "admin")
        other = env["res.users"].create(
            {
                "name": "No CRM",
                "login": "nocrm_files",
                "password": "nocrm_files",
                compat.USER_GROUPS: [(6, 0, [env.ref("base.group_user").id])],
            }
        )
        self.authenticate(other.login, "nocrm_files")
        response = self.url_open(download["url"])
        self.assertNotEqual(response.content, content)


@tagged("post_install", "-at_install")
class TestLongFileNames(MailCrmLinkTourCase):
    """A file with a long name (80 characters) on the mail's form, in the Files list and on
    the deal's email timeline: the whole name is read (wrapped, not cut with an ellipsis),
    the full name is the tooltip."""

    NAME = "Specifica tecnica completa delle 40 postazioni di lavoro, versione finale 26.pdf"

    def test_long_file_name_read_in_full(self):
        self.assertEqual(len(self.NAME), 80)
        mailbox = self.env["fetchmail.server"].create(
            {
                "name": "files@mycompany.example",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "long",
                "password": "unused",
                "crm_link_mode": "manual",
                "internal_domains": OUR_DOMAIN,
            }
        )
        inbox = self.env["mailbox.folder"].create(
            {"mailbox_id": mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"}
        )
        raw = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN).message(
            sender=("Marco Bianchi", f"marco@{CLIENT_DOMAIN}"),
            subject="Specifica",
            attachments=[(self.NAME, b"%PDF-1.4 specifica " * 100, "application/pdf")],
        )
        message = self.env["mailbox.message.store"]._store_batch(
            mailbox, inbox, [({"imap_uid": 1, "uidvalidity": 1}, raw, None)]
        )
        self.assertEqual(message.file_ids.mapped("name"), [self.NAME])
        client = self.env["res.partner"].create(
            {"name": "Marco Bianchi", "email": f"marco@{CLIENT_DOMAIN}"}
        )
        deal = self.env["crm.lead"].create(
            {"name": "Marco: 40 workstations", "type": "opportunity", "partner_id": client.id}
        )
        links = self.env["mailbox.message.link"]
        links._add_links(message, client)  # in the Files list
        links._add_links(message, deal)  # on the deal's email timeline
        self.tour_with_name(
            f"/odoo/action-mail_crm_link.mailbox_message_action/{message.id}",
            "mail_crm_link_long_file_name_form",
        )
        self.tour_with_name(
            "/odoo/action-mail_crm_link.mailbox_message_file_action",
            "mail_crm_link_long_file_name_list",
        )
        self.tour_with_name(
            f"/odoo/action-crm.crm_lead_action_pipeline/{deal.id}",
            "mail_crm_link_long_file_name_timeline",
        )

    def tour_with_name(self, url, tour):
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False, "startUrl": url}
        code = (
            f"window.mclLongFileName = {json.dumps(self.NAME)}; "
            f"odoo.startTour({tour!r}, {json.dumps(options)})"
        )
        self.start_tour(url, tour, login="admin", code=code)


class TestMailboxForm(LinkingCase):
    def test_initial_import_never_shows_more_done_than_planned(self):
        """The counter adds the folders synchronized, each clamped: a row written by an
        older version (18 done of 13) reads 13 / 13; a folder no longer synchronized does not
        count."""
        self.inbox.write({"import_total": 13, "import_done": 18})
        self.sent.write({"import_total": 4, "import_done": 2})
        self.assertEqual((self.mailbox.import_done, self.mailbox.import_total), (15, 17))
        self.sent.sync = False
        self.assertEqual((self.mailbox.import_done, self.mailbox.import_total), (13, 13))

    def test_crm_tab_keeps_the_common_case(self):
        """The advanced policy settings are on pages of their own (the port: see
        test_no_view_groups_the_digits_of_a_port)."""
        arch = self.env["fetchmail.server"].get_view(view_type="form")["arch"]
        doc = etree.fromstring(arch)
        crm = doc.xpath("//page[@name='mail_crm_link']")[0]
        self.assertTrue(crm.xpath(".//field[@name='crm_link_mode']"))
        for advanced in ("deal_link_mode", "incoming_unknown_action", "copy_mode", "folder_ids"):
            self.assertFalse(crm.xpath(f".//field[@name='{advanced}']"), advanced)
            self.assertTrue(doc.xpath(f"//page//field[@name='{advanced}']"), advanced)

    def test_no_view_groups_the_digits_of_a_port(self):
        """Every view that shows a port (Odoo's mailbox form as this addon extends it, the
        personal mailbox, the connect wizard, any list or kanban) shows 10143, not "10,143":
        the integer field groups digits unless its option ``enable_formatting`` is false (the
        ``format`` option of Odoo's own form is no longer read since 17)."""
        ours = self.env["ir.model.data"].search(
            [("module", "=", "mail_crm_link"), ("model", "=", "ir.model")]
        )
        models = {
            "fetchmail.server",
            *self.env["ir.model"].browse(ours.mapped("res_id")).mapped("model"),
        }
        models = [name for name in models if "port" in self.env[name]._fields]
        views = self.env["ir.ui.view"].search(
            [
                ("model", "in", models),
                ("type", "in", ("form", "list", "kanban")),
                ("mode", "=", "primary"),
            ]
        )
        checked = 0
        for view in views:
            arch = self.env[view.model].get_view(view.id, view.type)["arch"]
            for port in etree.fromstring(arch).xpath("//field[@name='port']"):
                options = safe_eval(port.get("options") or "{}", {"true": True, "false": False})
                self.assertIs(
                    options.get("enable_formatting"), False, f"{view.xml_id or view.name}"
                )
                checked += 1
        self.assertGreaterEqual(checked, 3)  # the mailbox, the personal mailbox, the wizard


class TestWhyNotDialog(LinkingCase):
    def test_why_not_opens_wide_and_its_sentences_wrap(self):
        """At 1440 px the default dialog cut the reason and the advice off: the dialog is
        Odoo's extra-large one, and the columns of sentences wrap instead of being cut."""
        action = self.contact_client.with_user(self.user_sales_manager).action_mcl_why_not()
        self.assertEqual(action["target"], "new")
        self.assertEqual(action["context"]["dialog_size"], "extra-large")
        arch = self.env["mailbox.why.not"].get_view(view_type="form")["arch"]
        columns = etree.fromstring(arch).xpath("//field[@name='line_ids']/list")[0]
        for name in ("subject", "correspondent", "reason", "detail", "advice"):
            cell = columns.xpath(f"./field[@name='{name}']")[0]
            self.assertIn("text-wrap", cell.get("class", "").split(), name)
