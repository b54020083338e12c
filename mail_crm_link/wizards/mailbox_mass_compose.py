from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services.outbox import PREPARE_NOW
from .mailbox_compose import SENDER_MODES


class MailboxMassCompose(models.TransientModel):
    """Send a template to a selection of contacts (or leads) from a list view.

    The list becomes a mass sending (``mailbox.send.batch``): one independent mail per
    recipient, built and queued in chunks (see ``_prepare_next``) and sent by the outbox."""

    _name = "mailbox.mass.compose"
    _inherit = "mailbox.chosen.mixin"
    # many-to-ones a user names: read back as the user (chosen.py)
    _mcl_chosen = ("mailbox_id", "template_id")
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
        """Check what can be checked now, then hand the list to a mass sending: prepared
        here for a short list, in the background (by the outbox cron, in committed chunks)
        for a long one, so that no list is too long for a request."""
        self.ensure_one()
        if self.res_model not in ("res.partner", "crm.lead"):
            raise UserError(self.env._("Mail is written to contacts, companies and leads."))
        records = self.env[self.res_model].browse(self.res_ids or []).exists()
        records.check_access("read")
        self.mailbox_id.check_access("read")
        self.template_id.check_access("read")
        self.env["mailbox.outbox"]._check_server(self.mailbox_id.sudo())
        batch = self.env["mailbox.send.batch"].create(
            {
                "name": self.env._(
                    "%(template)s to %(count)s records",
                    template=self.template_id.name,
                    count=len(records),
                ),
                "mailbox_id": self.mailbox_id.id,
                "template_id": self.template_id.id,
                "sender_mode": self.sender_mode,
                "res_model": self.res_model,
                "res_ids": records.ids,
                "record_count": len(records),
                "preparing": True,
            }
        )
        if len(records) <= PREPARE_NOW:
            batch._prepare_next(PREPARE_NOW)
            if not batch.message_ids:
                raise UserError(
                    self.env._(
                        "None of the selected records can be written to:\n%s",
                        batch.skipped_note or "",
                    )
                )
        else:
            self.env.ref("mail_crm_link.ir_cron_outbox_send")._trigger()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Mass Sending"),
            "res_model": "mailbox.send.batch",
            "res_id": batch.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
