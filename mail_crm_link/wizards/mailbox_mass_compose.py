import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..mailflow import addresses
from ..services.outbox import OutgoingMail
from .mailbox_compose import SENDER_MODES, _client_address

_logger = logging.getLogger(__name__)


class MailboxMassCompose(models.TransientModel):
    """Send a template to a selection of contacts (or leads) from a list view.

    Table of contents of ``action_send``: checks (records, mailbox, template, outgoing
    server) → the template rendered for all records at once → per record, its mail built on
    its own (a record that cannot get one is listed with the reason, the others go on) → all
    the mails handed to the outbox at once: one independent unit per recipient, queued in
    this request and sent by the cron in bounded batches → the mass sending's progress."""

    _name = "mailbox.mass.compose"
    _description = "Send a Template to Several Records"

    res_model = fields.Char(required=True)
    res_ids = fields.Json(required=True)
    record_count = fields.Integer(compute="_compute_record_count", string="Recipients")
    template_id = fields.Many2one(
        "mail.template",
        required=True,
        domain="[('mcl_crm', '=', True), ('model', '=', res_model)]",
    )
    mailbox_id = fields.Many2one(
        "fetchmail.server",
        string="Send From Mailbox",
        required=True,
        domain=[("crm_link_mode", "!=", "off")],
        default=lambda self: self.env["mailbox.compose"]._default_mailbox(),
    )
    sender_mode = fields.Selection(SENDER_MODES, string="Send As", default="mailbox", required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        ctx = self.env.context
        if ctx.get("active_model") in ("res.partner", "crm.lead"):
            values.update(res_model=ctx["active_model"], res_ids=ctx.get("active_ids", []))
        return values

    @api.depends("res_ids")
    def _compute_record_count(self):
        for wizard in self:
            wizard.record_count = len(wizard.res_ids or [])

    def action_send(self):
        self.ensure_one()
        if self.res_model not in ("res.partner", "crm.lead"):
            raise UserError(self.env._("Mail is written to contacts, companies and leads."))
        records = self.env[self.res_model].browse(self.res_ids or []).exists()
        records.check_access("read")
        self.mailbox_id.check_access("read")
        self.template_id.check_access("read")
        mailbox = self.mailbox_id.sudo()
        Outbox = self.env["mailbox.outbox"]
        Outbox.check_server(mailbox)
        rendered = self._render_all(records)
        mails, skipped = [], []
        Compose = self.env["mailbox.compose"]
        for record in records:
            values = rendered.get(record.id)
            try:
                if isinstance(values, Exception):
                    raise UserError(self.env._("The template could not be filled in: %s", values))
                mails.append(self._build_one(Compose, mailbox, record, values))
            except UserError as exc:
                skipped.append(f"{record.display_name}: {exc.args[0]}")
        if not mails:
            raise UserError(
                self.env._(
                    "None of the selected records can be written to:\n%s", "\n".join(skipped)
                )
            )
        batch = self.env["mailbox.send.batch"].create(
            {
                "name": self.env._(
                    "%(template)s to %(count)s recipients",
                    template=self.template_id.name,
                    count=len(mails),
                ),
                "mailbox_id": self.mailbox_id.id,
                "template_id": self.template_id.id,
                "record_count": len(records),
                "skipped_count": len(skipped),
                "skipped_note": "\n".join(skipped) or False,
            }
        )
        Outbox.queue(mailbox, mails, batch=batch, history=True)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Mass Sending"),
            "res_model": "mailbox.send.batch",
            "res_id": batch.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    def _render_all(self, records):
        """{record id: {field: value}} from the template, in one rendering per field for all
        the records; when that fails, record by record (a failure then concerns one record:
        its value is the exception)."""
        template = self.template_id
        names = ["subject", "body_html"] + (
            ["email_from"] if self.sender_mode == "template" else []
        )
        try:
            by_field = {name: template._render_field(name, records.ids) for name in names}
            return {rid: {n: by_field[n][rid] for n in names} for rid in records.ids}
        except Exception:
            _logger.info("template %s: rendering record by record", template.id, exc_info=True)
        result = {}
        for rid in records.ids:
            try:
                result[rid] = {n: template._render_field(n, [rid])[rid] for n in names}
            except Exception as exc:  # noqa: BLE001
                result[rid] = exc
        return result

    def _build_one(self, Compose, mailbox, record, values):
        """One recipient's mail (an :data:`OutgoingMail`); UserError says why there is none."""
        email_to = _client_address(record)
        if not email_to:
            raise UserError(self.env._("no email address"))
        composer = Compose.new(
            {
                "res_model": record._name,
                "res_id": record.id,
                "mailbox_id": mailbox.id,
                "email_to": email_to,
                "subject": values["subject"] or "-",
                "sender_mode": self.sender_mode,
                "template_id": self.template_id.id,
            }
        )
        if self.sender_mode == "template":
            sender = addresses.normalize(values.get("email_from") or "")
            if not sender:
                raise UserError(self.env._("There is no address to send this mail from."))
        else:
            sender = composer._sender(mailbox)
        composer._check_recipients(mailbox)
        raw, open_token = Compose._build_mail(
            mailbox,
            sender,
            record._name,
            record.id,
            addresses.parse_list([email_to]),
            [],
            values["subject"] or "-",
            values["body_html"],
            [],
        )
        return OutgoingMail(raw, record, open_token)
