import logging
import secrets

from markupsafe import Markup

from odoo import Command, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_datetime

from .. import compat
from ..mailflow import addresses, policy, threads
from ..services.outbox import OutgoingMail

_logger = logging.getLogger(__name__)

SENDER_MODES = [
    ("mailbox", "The CRM mailbox"),
    ("user", "My own address"),
    ("template", "The template's address"),
]


class MailboxCompose(models.TransientModel):
    """Write to a client from a CRM card, or reply to one of its mails.

    Table of contents of ``action_send``: check what the user chose (the card, the mailbox,
    the mail answered, the attached files: all read as the user) and that an outgoing server
    exists → build the MIME message (threading headers and a Message-ID carrying the card's
    signed token) → hand it to the outbox (``mailbox.outbox.queue``): stored as sent mail of
    the mailbox, linked to the card at once, *queued*. It leaves after the commit, through the
    mailbox's outgoing server, and is saved in the Sent folder when the mailbox asks for it.
    """

    _name = "mailbox.compose"
    _inherit = "mailbox.chosen.mixin"
    # many-to-ones a user names: read back as the user (chosen.py)
    _mcl_chosen = ("mailbox_id", "parent_id", "template_id")
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

    @api.constrains("sender_mode", "template_id")
    def _check_sender_mode(self):
        """ "The template's address" without a template would silently send from the
        mailbox: say so instead."""
        for wizard in self:
            if wizard.sender_mode == "template" and not wizard.template_id:
                raise ValidationError(
                    self.env._(
                        "To send from the template's address, choose a template; or send as "
                        "the CRM mailbox or from your own address."
                    )
                )

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
            main = self.env["mailbox.card.publisher"]._main_record(parent)
            model, res_id = main._name, main.id
        if model not in ("crm.lead", "res.partner") or not res_id:
            return values
        record = self.env[model].browse(res_id)
        values.update(res_model=model, res_id=res_id)
        forwarded = self.env["mailbox.message"].browse(ctx.get("mcl_forward_id") or [])
        if forwarded:
            values.update(self._forward_values(forwarded))
        elif parent:
            values.update(parent._mcl_reply_values())
        else:
            values["email_to"] = record._mcl_client_address()
        values.setdefault(
            "mailbox_id",
            (parent.mailbox_id or forwarded.mailbox_id or self._default_mailbox()).id or False,
        )
        return values

    @api.model
    def _forward_values(self, message):
        """Forward: no recipient yet, "Fwd:" subject, the mail's header block and body
        quoted as mail programs do, its files attached (read as the user)."""
        message.check_access("read")
        subject = message.subject or ""
        if not policy.FORWARD_PREFIX_RE.match(subject):
            subject = f"Fwd: {subject}"
        when = format_datetime(self.env, message.date, dt_format="medium") if message.date else ""
        rows = [
            (self.env._("From"), message.email_from),
            (self.env._("Date"), when),
            (self.env._("Subject"), message.subject),
            (self.env._("To"), message.email_to),
            (self.env._("Cc"), message.email_cc),
        ]
        head = Markup("<br>").join(
            Markup("%s: %s") % (label, value) for label, value in rows if value
        )
        original = message.body_html or Markup("<pre>%s</pre>") % (message.body_text or "")
        body = Markup(
            '<p><br></p><p><br></p><div data-o-mail-quote-container="1">'
            "<p>---------- %s ----------<br>%s</p>%s</div>"
        ) % (self.env._("Forwarded message"), head, Markup(original))
        return {
            "email_to": "",
            "subject": subject,
            "body": body,
            "attachment_ids": [Command.set(message.attachment_ids.ids)],
        }

    @api.model
    def _default_mailbox(self):
        mailboxes = self.env["fetchmail.server"].search(
            [("crm_link_mode", "!=", "off"), ("state", "=", "done")]
        )
        own = mailboxes.filtered(lambda m: m.owner_id == self.env.user)
        return (own or mailboxes)[:1]

    def _record(self):
        if self.res_model not in ("crm.lead", "res.partner"):
            raise UserError(self.env._("Mail is written from contacts, companies and leads."))
        return self.env[self.res_model].browse(self.res_id).exists()

    def _check_choices(self):
        """What the user chose is read as the user: the card, the mailbox, the mail answered
        and every attached file (never with sudo: a crafted request could name anything)."""
        record = self._record()
        if not record:
            raise UserError(self.env._("The record this mail was written from no longer exists."))
        record.check_access("read")
        self.mailbox_id.check_access("read")  # a mailbox the user may use (record rules)
        if self.parent_id:
            self.parent_id.check_access("read")  # a mail the user may read
        if self.attachment_ids:
            self.attachment_ids.check("read")  # as core's mail.message does
        return record

    def action_send(self):
        """Store the mail and queue it; it leaves after the commit (see the class)."""
        self.ensure_one()
        record = self._check_choices()
        mailbox = self.mailbox_id.sudo()
        Outbox = self.env["mailbox.outbox"]
        Outbox._check_server(mailbox)
        sender = self._sender(mailbox)
        self._check_recipients(mailbox)
        raw, open_token = self._build(mailbox, sender)
        Outbox._queue(mailbox, [OutgoingMail(raw, record, open_token)])
        self._mark_answered_processed(mailbox)
        return {"type": "ir.actions.act_window_close"}

    def _mark_answered_processed(self, mailbox):
        """With "Replying Marks the Mail Processed", the answered mail's Email activity is
        done, as if the writer had clicked "Mark Processed" (with the writer's rights: one
        who may not mark it keeps it pending, the reply leaves all the same)."""
        parent = self.parent_id
        if not (mailbox.reply_marks_processed and parent.pending):
            return
        try:
            with self.env.cr.savepoint():
                parent.action_mark_processed()
        except AccessError:  # the activity is someone else's: they still see it pending
            _logger.info("mail %s replied to but not marked processed: no right", parent.id)

    def _sender(self, mailbox):
        """The address the mail leaves from, as chosen in "Send As"."""
        if self.sender_mode == "user":
            address = addresses.normalize(self.env.user.email or "")
        elif self.sender_mode == "template":
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
        """The MIME bytes of this composer's mail and its open-tracking token."""
        return self._build_mail(
            mailbox,
            sender,
            self.res_model,
            self.res_id,
            addresses.parse_list([self.email_to]),
            addresses.parse_list([self.email_cc or ""]),
            self.subject,
            self.body,
            [(a.name, a.raw, a.mimetype) for a in self.attachment_ids],  # checked: as the user
            parent=self.parent_id,
        )

    @api.model
    def _build_mail(
        self,
        mailbox,
        sender,
        res_model,
        res_id,
        to_pairs,
        cc_pairs,
        subject,
        body,
        files,
        parent=None,
    ):
        """The MIME message as bytes, with its final Message-ID (the card's token):
        threading headers, the mailbox in Cc or Reply-To when the mail leaves from another
        address, and the open tracking image when the mailbox asks for it and every recipient
        is a client. Returns ``(raw, open_token or False)``."""
        mailbox._mcl_check_send_as(sender, self.env.user)
        parent = (parent or self.env["mailbox.message"]).sudo()  # read access checked
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        message_id = threads.make_message_id(
            res_model,
            res_id,
            secret,
            addresses.domain_of(sender) or "localhost",
            secrets.token_hex(6),
        )
        headers = {}
        references = None
        if parent.message_id:
            headers["In-Reply-To"] = parent.message_id
            references = " ".join(filter(None, [parent.references, parent.message_id]))
        cc_pairs = list(cc_pairs)
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
        body = body or Markup("<p></p>")
        open_token = False
        internal = mailbox._internal_set()
        clients_only = not any(
            addresses.is_internal(a, internal) for _n, a in to_pairs + cc_pairs if a != own
        )
        if mailbox.open_tracking and clients_only:
            # the image itself is added by the outbox to the copy that goes to the recipient
            # only (tracking.add_pixel): never stored, shown on the card or saved in Sent
            open_token = secrets.token_urlsafe(18)
        message = compat.build_email(
            self.env["ir.mail_server"],
            email_from=tools.formataddr((self.env.user.name, sender)),
            email_to=[_named(n, a) for n, a in to_pairs],
            email_cc=[_named(n, a) for n, a in cc_pairs],
            reply_to=reply_to,
            subject=subject,
            body=body,
            body_alternative=tools.html2plaintext(body),
            subtype="html",
            subtype_alternative="plain",
            message_id=message_id,
            references=references,
            headers=headers,
            attachments=files,
        )
        return message.as_bytes(), open_token


def _named(name, address):
    return tools.formataddr((name, address)) if name else address
