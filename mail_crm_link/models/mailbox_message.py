import logging
import re

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools.misc import format_datetime

from .. import compat
from ..mailflow import addresses, classify, explain, policy, threads, tracking, triage
from .fields_extra import BigInteger

_logger = logging.getLogger(__name__)

RELINK_NOW = 200  # mails re-linked inside the request; more go to a background job
# what a file name of the original's download may not hold (path separators, controls...)
_FILE_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
# The triage queue: client mail, not in error, on no record, nothing created (a mail whose
# new address another worker was creating is linked at the next pass: not queued), not
# dismissed (a dismissed mail is "Not CRM Material"). No link and state "new" go together:
# linking makes a mail "linked", removing its last link makes it "new" again.
TRIAGE_DOMAIN = [
    ("mail_kind", "=", classify.CLIENT),
    ("state", "=", "new"),
    ("link_deferred", "=", False),
]


def _names(header):
    """The names (or, without one, the addresses) of an address header, comma-separated."""
    pairs = addresses.parse_list([header or ""])
    return ", ".join(name or address for name, address in pairs if name or address)


class MailboxMessage(models.Model):
    """One message of a mailbox, stored once per mailbox whatever the folder or re-syncs."""

    _name = "mailbox.message"
    _description = "Mailbox Message"
    _order = "date desc, id desc"
    _rec_name = "subject"

    mailbox_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    folder_id = fields.Many2one("mailbox.folder", ondelete="set null", index=True)
    imap_uid = BigInteger(string="UID", readonly=True)
    uidvalidity = BigInteger(string="UIDVALIDITY", readonly=True)
    pop_uidl = fields.Char(string="POP3 UIDL", readonly=True, index="btree_not_null")
    dedup_key = fields.Char(required=True, readonly=True)
    message_id = fields.Char(string="Message-ID", readonly=True, index="btree_not_null")
    content_hash = fields.Char(readonly=True)
    in_reply_to = fields.Char(string="In-Reply-To", readonly=True)
    references = fields.Text(readonly=True)
    direction = fields.Selection(
        [(classify.INCOMING, "Incoming"), (classify.OUTGOING, "Outgoing")], readonly=True
    )
    date = fields.Datetime(readonly=True, index=True)
    subject = fields.Char(readonly=True)
    email_from = fields.Char(string="From", readonly=True)
    sender = fields.Char(string="Sender Address", readonly=True, index="btree_not_null")
    email_to = fields.Char(string="To", readonly=True)
    email_cc = fields.Char(string="Cc", readonly=True)
    reply_to = fields.Char(string="Reply-To", readonly=True)
    body_html = fields.Html(string="Body", readonly=True, sanitize=False)  # sanitized on store
    body_text = fields.Text(string="Text Body", readonly=True)
    size = fields.Integer(readonly=True)
    attachment_ids = fields.One2many(
        "ir.attachment",
        "res_id",
        string="Attachments",
        domain=[("res_model", "=", "mailbox.message")],
        readonly=True,
    )
    header_values = fields.Json(readonly=True, help="Headers the classification looks at.")
    state = fields.Selection(
        [
            ("new", "New"),
            ("linked", "Linked"),
            ("ignored", "Not CRM Material"),
            ("error", "Error"),
        ],
        default="new",
        required=True,
        index=True,
        readonly=True,
    )
    mail_kind = fields.Selection(
        [
            (classify.CLIENT, "Client Mail"),
            (classify.INTERNAL, "Internal"),
            (classify.AUTO_REPLY, "Automatic Reply"),
            (classify.BOUNCE, "Delivery Report"),
            (classify.MAILING_LIST, "Mailing List"),
            (classify.SPAM, "Spam"),
            (classify.EXCLUDED, "Never Logged"),
        ],
        string="Kind",
        readonly=True,
        index=True,
    )
    link_ids = fields.One2many("mailbox.message.link", "message_id", string="CRM Links")
    conversation = fields.Char(
        compute="_compute_conversation",
        store=True,
        index="btree_not_null",
        help="The first Message-ID of the thread: mails of one conversation share it.",
    )
    private = fields.Boolean(
        readonly=True,
        help="Shown only to the mailbox's owner and sales managers, on the mailbox and on "
        "the linked records.",
    )
    link_count = fields.Integer(compute="_compute_link_tags", string="Links")
    # the list shows who wrote to whom by name and what the mail is on, as the reader may see
    from_display = fields.Char(string="Sender", compute="_compute_correspondents")
    to_display = fields.Char(string="Recipients", compute="_compute_correspondents")
    link_contact_ids = fields.Many2many(
        "res.partner", string="Contacts", compute="_compute_link_tags"
    )
    link_company_ids = fields.Many2many(
        "res.partner", string="Companies", compute="_compute_link_tags"
    )
    link_lead_ids = fields.Many2many("crm.lead", string="Leads", compute="_compute_link_tags")
    link_deal_ids = fields.Many2many("crm.lead", string="Deals", compute="_compute_link_tags")
    can_process = fields.Boolean(compute="_compute_user_can")
    can_private = fields.Boolean(compute="_compute_user_can")
    can_resend = fields.Boolean(compute="_compute_can_resend")
    file_ids = fields.Many2many("ir.attachment", string="Files", compute="_compute_file_ids")
    needs_deal_choice = fields.Boolean(
        string="Choose a Deal",
        readonly=True,
        help="The client has several open deals: choose the one this mail belongs to.",
    )
    link_note = fields.Char(readonly=True)
    route = fields.Json(
        string="Routing",
        readonly=True,
        copy=False,
        help="What the pipeline decided for this mail and why, as it decided it "
        "(mailflow.explain); worded by route_html.",
    )
    route_html = fields.Html(
        string="Why Here?", compute="_compute_route_html", sanitize=False, readonly=True
    )
    activity_id = fields.Many2one(
        "mail.activity", string="Email Activity", ondelete="set null", index="btree_not_null"
    )
    history = fields.Boolean(
        string="Imported as History",
        readonly=True,
        help="Mail of an initial import: linked and shown on the cards as the past it is, "
        "without Email activities or notifications.",
    )
    link_deferred = fields.Boolean(
        readonly=True,
        index="btree_not_null",
        help="Its new address was being created by another worker: linked at the next pass.",
    )
    processed = fields.Boolean(readonly=True, help="The responsible marked this mail processed.")
    in_triage = fields.Boolean(
        string="To Triage",
        compute="_compute_in_triage",
        search="_search_in_triage",
        help="Client mail that matched nothing and created nothing (an unknown sender, no "
        "policy to create a record): waiting for someone to link it, make a record of it, "
        "ignore its sender or dismiss it.",
    )
    can_ignore = fields.Boolean(
        compute="_compute_can_ignore",
        help="The current user may add this mail's correspondent to the mailbox's never-log "
        "list (its owner, sales managers, administrators).",
    )
    pending = fields.Boolean(compute="_compute_pending", search="_search_pending")
    open_token = fields.Char(
        readonly=True, copy=False, index="btree_not_null", groups="base.group_system"
    )
    open_first = fields.Datetime(string="First Opened", readonly=True)
    open_last = fields.Datetime(string="Last Opened", readonly=True)
    open_count = fields.Integer(string="Opens", readonly=True)
    error_reason = fields.Text(readonly=True)
    parse_warnings = fields.Text(readonly=True)
    damaged = fields.Boolean(
        readonly=True,
        help="Its MIME structure is broken (a missing boundary, bad base64...), but its text "
        "or files could be read: shown and linked as any mail, with the original kept as a "
        "downloadable .eml file.",
    )
    retry_count = fields.Integer(readonly=True)
    # -- outgoing mail written in the CRM (see the mailbox.outbox service) --
    send_state = fields.Selection(
        [("queued", "Queued"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed")],
        readonly=True,
        copy=False,
        help="Mail written in the CRM is stored, then sent after the commit. Queued: waiting "
        "to leave (or to be tried again). Sending: handed to the outgoing server now. Sent: "
        "the server took it. Failed: see the reason; Retry sends it again.",
    )
    send_error = fields.Text(string="Sending Problem", readonly=True, copy=False)
    send_attempts = fields.Integer(readonly=True, copy=False)
    send_after = fields.Datetime(string="Next Attempt", readonly=True, copy=False)
    send_started_at = fields.Datetime(readonly=True, copy=False)
    send_claim = fields.Char(readonly=True, copy=False, groups="base.group_system")
    sent_at = fields.Datetime(string="Sent On", readonly=True, copy=False)
    send_user_id = fields.Many2one("res.users", string="Written By", readonly=True, copy=False)
    send_batch_id = fields.Many2one(
        "mailbox.send.batch",
        string="Mass Sending",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
    )
    outgoing_raw = fields.Binary(
        attachment=False,  # a column: no file per queued mail; emptied once sent and saved
        readonly=True,
        copy=False,
        groups="base.group_system",
        help="The mail to send as built, then as sent until it is saved in the Sent folder.",
    )
    append_state = fields.Selection(
        [("todo", "To Save"), ("done", "Saved"), ("failed", "Not Saved")],
        string="Sent Folder",
        readonly=True,
        copy=False,
    )
    raw_source = fields.Binary(
        string="Original Message",
        attachment=True,
        readonly=True,
        help="The message as the server holds it, byte for byte, kept for messages in error, "
        "damaged or read with changes, so that nothing is lost.",
    )
    raw_source_name = fields.Char(compute="_compute_raw_source_name")

    _mailbox_dedup_uniq = compat.Constraint(
        "unique(mailbox_id, dedup_key)", "A message is stored once per mailbox."
    )

    def init(self):
        # the outbox looks for due mail often: a small index of what is not sent yet
        tools.create_index(
            self.env.cr,
            "mailbox_message_outbox_due_index",
            self._table,
            ["send_state", "send_after", "id"],
            where="send_state IN ('queued', 'sending')",
        )

    def _mcl_visible_links(self):
        """The links of these mails the current user may see, to records he may read: searched
        as the user (the link rules: own documents, private mail), never as superuser."""
        links = self.env["mailbox.message.link"].search([("message_id", "in", self.ids)])
        partners = set(links.partner_id._filtered_access("read")._ids)
        leads = set(links.lead_id._filtered_access("read")._ids)
        return links.filtered(
            lambda link: (
                (link.lead_id.id in leads) if link.lead_id else (link.partner_id.id in partners)
            )
        )

    @api.depends_context("uid")
    @api.depends("link_ids")
    def _compute_link_tags(self):
        """The links the user may see, counted and told by kind (one read for all)."""
        links = self._mcl_visible_links() if self.ids else self.env["mailbox.message.link"]
        by_message = {}
        for link in links:
            by_message.setdefault(link.message_id.id, []).append(link)
        for message in self:
            mine = by_message.get(message.id, [])
            message.link_count = len(mine)
            partners = self.env["res.partner"].union(*(link.partner_id for link in mine))
            leads = self.env["crm.lead"].union(*(link.lead_id for link in mine))
            message.link_contact_ids = partners.filtered(lambda p: not p.is_company)
            message.link_company_ids = partners.filtered("is_company")
            message.link_lead_ids = leads.filtered(lambda lead: lead.type == "lead")
            message.link_deal_ids = leads.filtered(lambda lead: lead.type == "opportunity")

    @api.depends("email_from", "email_to", "email_cc")
    def _compute_correspondents(self):
        """Names where the header has them (``"Giulia Rossi" <giulia@…>`` → Giulia Rossi);
        the full header stays in From and To."""
        for message in self:
            message.from_display = _names(message.email_from) or message.sender or False
            message.to_display = _names(message.email_to) or False

    @api.depends_context("uid")
    @api.depends("activity_id", "processed", "mailbox_id.owner_id")
    def _compute_user_can(self):
        """What the current user may do with the mail, so that a view shows only buttons that
        work; the methods check again (a button hidden is not a right withheld)."""
        manager = self.env.su or self.env.user.has_group("sales_team.group_sale_manager")
        for message in self:
            activity = message.activity_id
            message.can_process = bool(
                message.pending
                and activity.exists()
                and activity.has_access("read")
                and activity.has_access("unlink")
            )
            message.can_private = manager or message.sudo().mailbox_id.owner_id == self.env.user

    @api.depends_context("uid")
    @api.depends("send_user_id")
    def _compute_can_resend(self):
        """Sending again is for the writer and sales managers (see ``action_retry_send``)."""
        manager = self.env.su or self.env.user.has_group("sales_team.group_sale_manager")
        for message in self:
            message.can_resend = manager or message.send_user_id == self.env.user

    @api.depends("attachment_ids")
    def _compute_file_ids(self):
        for message in self:
            message.file_ids = message.attachment_ids

    @api.depends("subject")
    def _compute_raw_source_name(self):
        """The file name of the original's download: the subject, safe in a file name."""
        for message in self:
            stem = _FILE_UNSAFE.sub("_", message.subject or "").strip(" ._")[:80]
            message.raw_source_name = f"{stem or 'mail'}-{message.id or 'new'}.eml"

    @api.depends("message_id", "references", "in_reply_to")
    def _compute_conversation(self):
        for message in self:
            message.conversation = threads.conversation(
                message.references, message.in_reply_to, message.message_id
            )

    @api.depends_context("lang", "uid")
    @api.depends("route", "state", "private", "link_ids", "mail_kind")
    def _compute_route_html(self):
        # the whole recordset worded at once: the records named are read once per model
        htmls = self.env["mailbox.route.explainer"]._html_of(self)
        for message in self:
            message.route_html = htmls.get(message.id, "")

    @api.depends("activity_id", "processed")
    def _compute_pending(self):
        for message in self:
            message.pending = bool(message.activity_id) and not message.processed

    def _search_pending(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Unsupported search on pending mail."))
        pending = [("activity_id", "!=", False), ("processed", "=", False)]
        return pending if (operator == "=") == value else ["!", "&", *pending]

    @api.depends("mail_kind", "state", "link_deferred")
    def _compute_in_triage(self):
        for message in self:
            message.in_triage = (
                message.mail_kind == classify.CLIENT
                and message.state == "new"
                and not message.link_deferred
            )

    def _search_in_triage(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Unsupported search on mail to triage."))
        if (operator == "=") == value:
            return list(TRIAGE_DOMAIN)
        return ["!", "&", "&", *TRIAGE_DOMAIN]

    @api.depends_context("uid")
    @api.depends("mailbox_id")
    def _compute_can_ignore(self):
        for message in self:
            message.can_ignore = message.sudo().mailbox_id._mcl_may_ignore(self.env.user)

    def _mcl_form_action(self):
        """The action that opens this mail's form (from a file, a "Why not?" line...)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mailbox.message",
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # -- linking ------------------------------------------------------------------------------
    def action_relink(self):
        """Run matching again on these mails (after a contact's address was added, say):
        only new links are added, shown on the cards as history (no Email activity, no
        notification); nothing is created. Allowed to whoever may read the mails. A few
        mails are done at once; more go to a background job (never a whole mailbox inside
        one request)."""
        self.check_access("read")
        messages = self.sudo().filtered(lambda m: m.state != "error")
        if len(messages) <= RELINK_NOW:
            messages._mcl_relink()
        else:
            self.env["mailbox.sync.job"].sudo()._schedule(messages.mailbox_id, "relink", messages)
        return True

    def _mcl_relink(self):
        """Classify again and link as history, creating nothing."""
        for message in self:
            message.mail_kind = message._mcl_classify()
        return self.env["mailbox.crm.linker"]._link(
            self, allow_create=False, run_hooks=False, history=True, route_part="relink"
        )

    # -- by hand (the web client) -------------------------------------------------------------
    def action_link_record(self, model, res_id):
        """Link these mails to one contact, company, lead or deal (see ``_add_links``)."""
        record = self.env[model].browse(int(res_id)).exists()
        self.env["mailbox.message.link"]._add_links(self, record)
        return True

    def action_remove_from_record(self):
        """ "Remove from card": the mail leaves the record named by the context (the card the
        list was opened from), not the rest of its thread."""
        self.check_access("read")
        model = self.env.context.get("mcl_res_model")
        res_id = self.env.context.get("mcl_res_id")
        field = {"crm.lead": "lead_id", "res.partner": "partner_id"}.get(model)
        if not field or not res_id:
            return False
        return self.link_ids.filtered(lambda link: link[field].id == res_id).action_remove()

    def action_create_lead(self):
        return self._mcl_offer_open_leads(policy.LEAD) or self._mcl_create_record(policy.LEAD)

    def action_create_opportunity(self):
        return self._mcl_offer_open_leads(policy.OPPORTUNITY) or self._mcl_create_record(
            policy.OPPORTUNITY
        )

    def _mcl_open_leads(self):
        """Open (active, not won) leads and deals of this mail's correspondent that the user
        may read: by the address, or by the contact and company having it."""
        self.ensure_one()
        self.check_access("read")
        _name, address = self._mcl_main_correspondent()
        address = addresses.normalize(address or "")
        if not address:
            return self.env["crm.lead"]
        forms = addresses.lookup_forms(address, self.sudo().mailbox_id.fold_plus)
        partners = self.env["res.partner"].union(
            *self.env["res.partner"]._mcl_find_by_addresses(forms).values()
        )
        domain = [("email_normalized", "in", forms)]
        if partners:
            domain = [
                "|",
                *domain,
                ("partner_id", "child_of", partners.commercial_partner_id.ids),
            ]
        return self.env["crm.lead"].search(
            [*domain, ("stage_id.is_won", "=", False)], order="write_date desc, id desc", limit=20
        )

    def _mcl_offer_open_leads(self, kind):
        """Before creating a lead or deal: the correspondent's open ones, to link the mail to
        one of them or create a new one anyway (``mailbox.lead.choice``). False when there
        is none, or when the user chose to create anyway."""
        if self.env.context.get("mcl_create_anyway"):
            return False
        leads = self._mcl_open_leads()
        if not leads:
            return False
        wizard = self.env["mailbox.lead.choice"].create(
            {
                "message_id": self.id,
                "kind": kind,
                "line_ids": [(0, 0, {"lead_id": lead.id}) for lead in leads],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Open Leads and Deals of This Client"),
            "res_model": "mailbox.lead.choice",
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def action_create_contact(self):
        return self._mcl_create_record(policy.CONTACT)

    def action_create_company(self):
        return self._mcl_create_record(policy.COMPANY)

    def _mcl_create_record(self, kind):
        """Create a lead, deal, contact or company prefilled from this mail and link it.
        The record is created as the current user: their create right is checked by Odoo."""
        self.ensure_one()
        self.check_access("read")
        if kind not in (policy.LEAD, policy.OPPORTUNITY, policy.CONTACT, policy.COMPANY):
            raise AccessError(self.env._("Unknown kind of record: %s", kind))
        mailbox = self.sudo().mailbox_id
        name, address = self._mcl_main_correspondent()
        if kind in (policy.LEAD, policy.OPPORTUNITY):
            kind = policy.lead_type(kind, self.env["mailbox.record.factory"]._leads_in_use(mailbox))
            record = self.env["crm.lead"].create(
                {
                    "name": policy.clean_subject(self.subject)
                    or self.env._("Email from %s", name or address),
                    "type": kind,
                    "email_from": address or False,
                    "contact_name": name or False,
                    "user_id": self.env.uid,
                    "team_id": mailbox.team_id.id or False,
                    "source_id": mailbox._mcl_source().id or False,
                    "medium_id": self.env.ref("utm.utm_medium_email").id,
                }
            )
        else:
            record = self.env["res.partner"].create(policy.partner_values(kind, name, address))
        self.env["mailbox.message.link"]._add_links(self, record)
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    def _mcl_main_correspondent(self):
        """``(name, address)`` of the client side: the sender of incoming mail, the first
        external recipient of sent mail."""
        self.ensure_one()
        found = classify.client_side(
            self.direction,
            self.sender,
            self.email_from,
            self.email_to,
            self.email_cc,
            self.mailbox_id.sudo()._internal_set(),
        )
        if found:
            return found[0]
        sender = addresses.parse_list([self.email_from or ""])
        return sender[0] if sender else ("", self.sender or "")

    def _mcl_reply_values(self):
        """To and subject of an answer to this mail."""
        self.ensure_one()
        if self.direction == classify.INCOMING:
            to = self.reply_to or self.email_from or ""
        else:
            to = self.email_to or ""
        subject = self.subject or ""
        if not policy.REPLY_PREFIX_RE.match(subject):
            subject = f"Re: {subject}"
        return {
            "email_to": to,
            "subject": subject,
            "parent_id": self.id,
            "body": self._mcl_quoted(),
        }

    def _mcl_quoted(self):
        """The answer's body: room to write, then this mail quoted as mail programs do
        ("On …, … wrote:"), in the writer's language; the quote is the stored body,
        sanitized when the mail was stored."""
        self.ensure_one()
        when = format_datetime(self.env, self.date, dt_format="medium") if self.date else ""
        intro = self.env._(
            "On %(date)s, %(sender)s wrote:", date=when, sender=self.email_from or "?"
        )
        original = self.body_html or Markup("<pre>%s</pre>") % (self.body_text or "")
        return Markup(
            '<p><br></p><p><br></p><div data-o-mail-quote-container="1"><p>%s</p>'
            '<blockquote data-o-mail-quote="1" style="margin:0 0 0 .8ex;'
            'border-left:1px solid #ccc;padding-left:1ex">%s</blockquote></div>'
        ) % (intro, Markup(original))

    def action_reply(self):
        """Answer this mail from the CRM (through the mailbox's outgoing server)."""
        self.ensure_one()
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reply"),
            "res_model": "mailbox.compose",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_parent_id": self.id,
                "default_res_model": self.env.context.get("mcl_res_model"),
                "default_res_id": self.env.context.get("mcl_res_id"),
            },
        }

    def action_toggle_private(self):
        """The mailbox's owner (or a sales manager) hides a mail from everybody else; it stays
        linked."""
        self._mcl_check_owner()
        for message in self.sudo():
            message.private = not message.private
        return True

    def action_private_correspondent(self):
        """Every mail with this correspondent, past and future, is private: the chosen mail at
        once, the rest of the mailbox's stored mail by a background job."""
        self._mcl_check_owner()
        for message in self.sudo():
            _name, address = message._mcl_main_correspondent()
            if not address:
                continue
            mailbox = message.mailbox_id
            if not addresses.in_list(address, addresses.parse_internal(mailbox.private_addresses)):
                mailbox.private_addresses = ", ".join(
                    filter(None, [mailbox.private_addresses, address])
                )
            mailbox._mcl_apply_private(message)
            self.env["mailbox.sync.job"].sudo()._schedule(mailbox, "private")
        return True

    def _mcl_check_owner(self):
        self.check_access("read")
        if self.env.user.has_group("sales_team.group_sale_manager") or self.env.su:
            return
        if any(m.sudo().mailbox_id.owner_id != self.env.user for m in self):
            raise AccessError(
                self.env._("Only the owner of the mailbox can make its mail private.")
            )

    def _mcl_classify(self):
        self.ensure_one()
        recipients = [
            a for _n, a in addresses.parse_list([self.email_to or "", self.email_cc or ""])
        ]
        return self.mailbox_id._mcl_kind(
            self.header_values or {},
            self.direction,
            self.sender,
            recipients,
            self.folder_id.role if self.folder_id else "inbox",
        )

    def _mcl_author(self):
        """The partner who wrote the mail, when the CRM knows the address (a colleague's
        partner first, for sent mail)."""
        self.ensure_one()
        found = self.env["res.partner"]._mcl_find_by_addresses(
            addresses.lookup_forms(self.sender, self.mailbox_id.fold_plus)
        )
        partners = self.env["res.partner"].union(*found.values())
        return (
            partners.filtered(lambda p: p.user_ids)[:1]
            or partners.filtered(lambda p: not p.is_company)[:1]
            or partners[:1]
        )

    # -- triage (the queue of client mail nobody linked) ---------------------------------------
    def action_triage_link(self):
        """ "Link to…" with suggestions: the records of this mail's correspondent the user may
        read, ranked (``mailflow.triage``); one click links (``mailbox.link.suggestion``)."""
        self.ensure_one()
        self.check_access("read")
        _name, address = self._mcl_main_correspondent()
        lines = [
            (0, 0, self.env["mailbox.link.suggestion"]._mcl_values(record, why, address))
            for record, why in self._mcl_triage_suggestions()
        ]
        wizard = self.env["mailbox.link.wizard"].create(
            {"message_ids": [(6, 0, self.ids)], "suggestion_ids": lines}
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Link to a CRM Record"),
            "res_model": "mailbox.link.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def _mcl_triage_suggestions(self):
        """``[(record, reasons)]``: contacts, companies, leads and deals the current user may
        read (every search below runs as the user: record rules), best first. Candidates
        are the records of the correspondent's domain (not a mail provider's nor ours),
        those on other mail of this conversation, and those on the correspondent's recent
        mail."""
        self.ensure_one()
        _name, address = self._mcl_main_correspondent()
        address = addresses.normalize(address or "")
        internal = self.sudo().mailbox_id._internal_set()
        records = {}  # (model, id) → record
        candidates = []

        def add(record, also=(), **flags):
            own = record.email_from if record._name == "crm.lead" else record.email
            found = {addresses.normalize(own or ""), *also} - {""}
            records[record._name, record.id] = record
            candidates.append(
                triage.Candidate(key=(record._name, record.id), addresses=frozenset(found), **flags)
            )

        domain = triage.suggestion_domain(address, internal)
        if domain:
            pattern = "%@" + domain.replace("_", "\\_")  # "_" is LIKE's any character
            partners = self.env["res.partner"].search(
                [("email_normalized", "=ilike", pattern)], order="write_date desc", limit=20
            )
            for partner in partners:
                add(partner)
                company = partner.commercial_partner_id  # a company of that domain
                if company != partner and company.has_access("read"):
                    add(company, also=[partner.email_normalized or ""])
            leads = self.env["crm.lead"].search(
                [("email_normalized", "=ilike", pattern), ("stage_id.is_won", "=", False)],
                order="write_date desc",
                limit=20,
            )
            for lead in leads:
                add(lead, seen=lead.write_date)
        if address:
            forms = addresses.lookup_forms(address, self.sudo().mailbox_id.fold_plus)
            for partners in self.env["res.partner"]._mcl_find_by_addresses(forms).values():
                for partner in partners:
                    add(partner, also=[address])
            # the correspondent's open leads and deals, by their address or their contact's
            for lead in self._mcl_open_leads():
                add(lead, also=[address], seen=lead.write_date)
        related = [("id", "!=", self.id), ("state", "=", "linked")]
        if self.conversation:
            thread = self.search(
                [*related, ("conversation", "=", self.conversation)], order="date desc", limit=30
            )
            for link in thread._mcl_visible_links():
                add(link._target(), thread=True, seen=link.message_id.date)
        if address:
            recent = self.search(
                [
                    *related,
                    "|",
                    "|",
                    ("sender", "=", address),
                    ("email_to", "ilike", address),
                    ("email_cc", "ilike", address),
                ],
                order="date desc",
                limit=30,
            )
            for link in recent._mcl_visible_links():
                add(link._target(), correspondent=True, seen=link.message_id.date)
        ranked = triage.rank(address, candidates, internal)
        return [(records[candidate.key], why) for candidate, why in ranked]

    def action_triage_ignore_sender(self):
        """This mail's correspondent is never logged from now on (see ``_mcl_triage_ignore``)."""
        return self._mcl_triage_ignore(triage.SENDER)

    def action_triage_ignore_domain(self):
        """Every address of this mail's correspondent's domain is never logged from now on."""
        return self._mcl_triage_ignore(triage.WHOLE_DOMAIN)

    def _mcl_triage_ignore(self, scope):
        """Put the correspondent (or their ``@domain``) on the mailbox's never-log list, then
        classify the mailbox's queued mail again: what is never logged now leaves the queue
        as "Never Logged". Who may: the owner of a personal mailbox, sales managers and
        administrators (``_mcl_may_ignore``): the list decides for everybody's mail of the
        mailbox. The mail already linked stays linked. Only mail of the queue may: a mail
        linked, dismissed or not client mail is refused (the buttons show on queued mail only,
        a call over RPC is held to the same)."""
        self.check_access("read")
        for message in self:
            mailbox = message.sudo().mailbox_id
            if not self.env.su and not mailbox._mcl_may_ignore(self.env.user):
                raise AccessError(
                    self.env._(
                        "Only the owner of a personal mailbox, sales managers and "
                        "administrators may choose which correspondents mailbox %s never "
                        "logs. Dismiss the mail instead, or ask one of them.",
                        mailbox.name,
                    )
                )
            if not message.sudo().in_triage:
                raise UserError(
                    self.env._(
                        "%s: this mail is not in the triage queue (it is linked, dismissed, "
                        "never logged or not client mail). Only queued mail can add its "
                        "correspondent to the never-log list.",
                        message.subject or message.display_name,
                    )
                )
        for message in self:
            mailbox = message.sudo().mailbox_id
            _name, address = message._mcl_main_correspondent()
            mailbox._mcl_never_log_add(address, scope)
        return True

    def action_triage_dismiss(self):
        """Not CRM material: the mail leaves the queue (it stays in the mailbox, "Not CRM
        Material"; Re-link still links it if its correspondent becomes known). Whoever may
        read the mail may dismiss it, as they may link it."""
        self.check_access("read")
        for message in self.sudo().filtered("in_triage"):
            route = dict(message.route) if isinstance(message.route, dict) else {}
            route["triage"] = explain.triaged(self.env.uid, explain.DISMISSED)
            message.write({"state": "ignored", "route": route})
        return True

    def action_mark_processed(self):
        """The responsible handled the mail: its Email activity is done. Marking it done is
        checked by Odoo's activity rights (the assigned user, or who may edit the record)."""
        self.check_access("read")
        self.activity_id.action_feedback(feedback=self.env._("Mail processed."))
        return self.sudo().write({"processed": True})

    # -- outgoing mail --------------------------------------------------------------------------
    @api.model
    def _mcl_record_open(self, token, count=True):
        """One open of the mail with this tracking token, counted in one SQL statement: two
        opens at once both count (a read-then-write in Python would lose one), but the image
        fetched again within ``tracking.OPEN_REPEAT_SECONDS`` of the last open counts once
        (a mail program loads it for the preview and again for the mail). ``count=False``
        (an internal user) counts nothing. Returns the mail, or an empty recordset for an
        unknown token."""
        self.flush_model(["open_token", "open_count", "open_first", "open_last"])
        cr = self.env.cr
        if count:
            cr.execute(
                """
                UPDATE mailbox_message
                   SET open_count = COALESCE(open_count, 0) + 1,
                       open_last = now() AT TIME ZONE 'UTC',
                       open_first = COALESCE(open_first, now() AT TIME ZONE 'UTC')
                 WHERE open_token = %s
                   AND (open_last IS NULL
                        OR open_last <= now() AT TIME ZONE 'UTC' - make_interval(secs => %s))
             RETURNING id
                """,
                [token, tracking.OPEN_REPEAT_SECONDS],
            )
            counted = [row[0] for row in cr.fetchall()]
            if counted:
                messages = self.browse(counted)
                messages.invalidate_recordset(["open_count", "open_first", "open_last"])
                return messages
        cr.execute("SELECT id FROM mailbox_message WHERE open_token = %s", [token])
        return self.browse([row[0] for row in cr.fetchall()])

    def action_retry_send(self):
        """Send failed mail again (or waiting mail now): allowed to whoever wrote it and to
        sales managers, for mail they may read; it leaves after the commit."""
        self.check_access("read")
        manager = self.env.user.has_group("sales_team.group_sale_manager") or self.env.su
        for message in self.sudo():
            if message.send_state not in ("failed", "queued"):
                raise UserError(
                    self.env._("Only mail that failed or waits to be sent can be sent again.")
                )
            if not manager and message.send_user_id != self.env.user:
                raise AccessError(
                    self.env._("Only the writer of a mail or a sales manager can send it again.")
                )
        Outbox = self.env["mailbox.outbox"]
        for mailbox in self.sudo().mailbox_id:
            Outbox._check_server(mailbox)
        Outbox._requeue(self.sudo())
        return True

    # -- errors -------------------------------------------------------------------------------
    def action_retry(self):
        """Read the kept raw source again (after a fix); the recovered mail is linked."""
        recovered = self.env["mailbox.message.store"]._retry(self)
        self.env["mailbox.crm.linker"]._link_safely(recovered)
        return True
