import logging
import secrets

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from ..mailflow import addresses, threads, tracking

_logger = logging.getLogger(__name__)

SENDER_MODES = [
    ("mailbox", "The CRM mailbox"),
    ("user", "My own address"),
    ("template", "The template's address"),
]


class MailboxCompose(models.TransientModel):
    """Write to a client from a CRM card, or reply to one of its mails.

    Table of contents of ``action_send``: build the MIME message (threading headers and a
    Message-ID carrying the card's signed token) → send it through the mailbox's outgoing
    server → store it as sent mail of the mailbox, linked to the card at once → APPEND it to
    the mailbox's Sent folder, so that the user's own mail program shows it too.
    """

    _name = "mailbox.compose"
    _description = "Write an Email From the CRM"

    res_model = fields.Char(required=True)
    res_id = fields.Integer(required=True)
    parent_id = fields.Many2one("mailbox.message", string="In Reply To")
    mailbox_id = fields.Many2one(
        "fetchmail.server",
        string="Send From Mailbox",
        required=True,
        domain=[("crm_link_mode", "!=", "off")],
    )
    email_to = fields.Char(string="To", required=True)
    email_cc = fields.Char(string="Cc")
    subject = fields.Char(required=True)
    body = fields.Html()
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments")
    template_id = fields.Many2one(
        "mail.template",
        domain="[('mcl_crm', '=', True), ('model', '=', res_model)]",
    )
    sender_mode = fields.Selection(SENDER_MODES, string="Send As", default="mailbox", required=True)

    @api.onchange("template_id")
    def _onchange_template_id(self):
        """Subject and body from the template, placeholders filled for this card."""
        if not self.template_id or not self.res_id:
            return
        rendered = self._render_template(self.template_id, ["subject", "body_html"])
        self.subject = rendered["subject"] or self.subject
        self.body = rendered["body_html"] or self.body

    def _render_template(self, template, field_names):
        template.check_access("read")  # personal and shared templates: record rules
        return {
            name: template._render_field(name, [self.res_id])[self.res_id] for name in field_names
        }

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        ctx = self.env.context
        parent = self.env["mailbox.message"].browse(ctx.get("default_parent_id") or [])
        model = values.get("res_model") or ctx.get("active_model")
        res_id = values.get("res_id") or ctx.get("active_id")
        if parent and not (model in ("crm.lead", "res.partner") and res_id):
            main = self.env["mailbox.card.publisher"].main_record(parent)
            model, res_id = main._name, main.id
        if model not in ("crm.lead", "res.partner") or not res_id:
            return values
        record = self.env[model].browse(res_id)
        values.update(res_model=model, res_id=res_id)
        if parent:
            values.update(parent._mcl_reply_values())
        else:
            values["email_to"] = _client_address(record)
        values.setdefault("mailbox_id", (parent.mailbox_id or self._default_mailbox()).id or False)
        return values

    @api.model
    def _default_mailbox(self):
        mailboxes = self.env["fetchmail.server"].search(
            [("crm_link_mode", "!=", "off"), ("state", "=", "done")]
        )
        own = mailboxes.filtered(lambda m: m.owner_id == self.env.user)
        return (own or mailboxes)[:1]

    def _record(self):
        return self.env[self.res_model].browse(self.res_id)

    def action_send(self):
        self.ensure_one()
        record = self._record()
        record.check_access("read")
        self.mailbox_id.check_access("read")  # a mailbox the user may use (record rules)
        mailbox = self.mailbox_id.sudo()
        sender = self._sender(mailbox)
        self._check_recipients(mailbox)
        message, open_token = self._build(mailbox, sender)
        self.env["ir.mail_server"].sudo().send_email(
            message, mail_server_id=mailbox.mail_server_id.id or None
        )
        raw = message.as_bytes()  # as sent (the mail server may have adjusted headers)
        stored = self._store(mailbox, raw, message["Message-ID"])
        if open_token:
            stored.sudo().open_token = open_token
        # the recipients: known ones linked, new ones per the mailbox's outgoing policy
        self.env["mailbox.crm.linker"].sudo().link(
            stored.sudo(), allow_create=mailbox.allow_any_address, run_hooks=False, history=False
        )
        self.env["mailbox.message.link"]._add_links(stored, record)
        try:
            mailbox._mcl_append_sent(raw)
        except Exception as exc:  # noqa: BLE001 (the mail is sent and stored; say what failed)
            _logger.warning("Mailbox %s: could not save sent mail to Sent: %s", mailbox.id, exc)
            stored.sudo().link_note = self.env._(
                "Sent, but not saved in the mailbox's Sent folder: %s", exc
            )
        return {"type": "ir.actions.act_window_close"}

    def _sender(self, mailbox):
        """The address the mail leaves from, as chosen in "Send As"."""
        if self.sender_mode == "user":
            address = addresses.normalize(self.env.user.email or "")
        elif self.sender_mode == "template" and self.template_id:
            address = addresses.normalize(
                self._render_template(self.template_id, ["email_from"])["email_from"] or ""
            )
        else:
            address = mailbox._mcl_address()
        if not address:
            raise UserError(self.env._("There is no address to send this mail from."))
        return address

    def _check_recipients(self, mailbox):
        """With "Allow Sending to Any Address" off, only addresses the CRM knows."""
        if mailbox.allow_any_address:
            return
        wanted = [a for _n, a in addresses.parse_list([self.email_to, self.email_cc or ""])]
        known = set()
        for model in ("res.partner", "crm.lead"):
            found = (
                self.env[model]
                .sudo()
                ._mcl_find_by_addresses(
                    [f for a in wanted for f in addresses.lookup_forms(a, mailbox.fold_plus)]
                )
            )
            known.update(found)
        unknown = [
            a
            for a in wanted
            if not known.intersection(addresses.lookup_forms(a, mailbox.fold_plus))
        ]
        if unknown:
            raise UserError(
                self.env._(
                    "Mailbox %(mailbox)s sends only to addresses the CRM knows: %(addresses)s",
                    mailbox=mailbox.name,
                    addresses=", ".join(unknown),
                )
            )

    def _build(self, mailbox, sender):
        """The MIME message: threading headers, a Message-ID with the card's token, the
        mailbox in Cc or Reply-To when the mail leaves from another address, and the open
        tracking image when the mailbox asks for it and every recipient is a client."""
        parent = self.parent_id.sudo()
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        message_id = threads.make_message_id(
            self.res_model,
            self.res_id,
            secret,
            addresses.domain_of(sender) or "localhost",
            secrets.token_hex(8),
        )
        headers = {}
        references = None
        if parent.message_id:
            headers["In-Reply-To"] = parent.message_id
            references = " ".join(filter(None, [parent.references, parent.message_id]))
        to_pairs = addresses.parse_list([self.email_to])
        cc_pairs = addresses.parse_list([self.email_cc or ""])
        if not to_pairs:
            raise UserError(self.env._("Enter at least one recipient address."))
        reply_to = False
        own = mailbox._mcl_address()
        if own and sender != own:
            if mailbox.copy_mode == "cc":
                if own not in {a for _n, a in cc_pairs}:
                    cc_pairs.append(("", own))
            else:
                reply_to = own
        body = self.body or Markup("<p></p>")
        open_token = False
        internal = mailbox._internal_set()
        clients_only = not any(
            addresses.is_internal(a, internal) for _n, a in to_pairs + cc_pairs if a != own
        )
        if mailbox.open_tracking and clients_only:
            open_token = secrets.token_urlsafe(18)
            body = Markup(body) + Markup(
                '<img src="%s" width="1" height="1" alt="" style="display:none"/>'
            ) % tracking.pixel_url(self.get_base_url(), open_token, secret)
        message = self.env["ir.mail_server"].build_email(
            email_from=tools.formataddr((self.env.user.name, sender)),
            email_to=[_named(n, a) for n, a in to_pairs],
            email_cc=[_named(n, a) for n, a in cc_pairs],
            reply_to=reply_to,
            subject=self.subject,
            body=body,
            body_alternative=tools.html2plaintext(body),
            subtype="html",
            subtype_alternative="plain",
            message_id=message_id,
            references=references,
            headers=headers,
            attachments=[(a.name, a.raw, a.mimetype) for a in self.attachment_ids.sudo()],
        )
        return message, open_token

    def _store(self, mailbox, raw, message_id):
        folder = mailbox.folder_ids.filtered(lambda f: f.role == "sent")[:1]
        Message = self.env["mailbox.message"].sudo()
        stored = (
            self.env["mailbox.message.store"]
            .sudo()
            .store_batch(mailbox, folder, [({}, raw, fields.Datetime.now())])
        )
        if not stored:  # already stored (same Message-ID): never happens for a new token
            stored = Message.search(
                [("mailbox_id", "=", mailbox.id), ("dedup_key", "=", message_id)]
            )
        stored.direction = "outgoing"
        return stored.with_env(self.env)


def _named(name, address):
    return tools.formataddr((name, address)) if name else address


def _client_address(record):
    """Where a card's mail goes: a contact's address; a deal's client's (else its company's,
    else the deal's own) address."""
    if record._name == "res.partner":
        return record.email or record.commercial_partner_id.email or ""
    partner = record.partner_id
    return partner.email or partner.commercial_partner_id.email or record.email_from or ""
