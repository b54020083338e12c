from odoo import api, fields, models
from odoo.exceptions import UserError

from .mailbox_compose import SENDER_MODES


class MailboxMassCompose(models.TransientModel):
    """Send a template to a selection of contacts (or leads) from a list view: one mail per
    record, each linked to its record and saved in the mailbox's Sent folder."""

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
        records = self.env[self.res_model].browse(self.res_ids or []).exists()
        records.check_access("read")
        Compose = self.env["mailbox.compose"]
        sent = 0
        for record in records:
            values = Compose.with_context(
                default_res_model=record._name, default_res_id=record.id
            ).default_get(["email_to", "res_model", "res_id"])
            if not values.get("email_to"):
                continue  # no address: nothing to send to
            composer = Compose.create(
                {
                    **values,
                    "mailbox_id": self.mailbox_id.id,
                    "template_id": self.template_id.id,
                    "sender_mode": self.sender_mode,
                    "subject": "-",
                }
            )
            composer._onchange_template_id()
            composer.action_send()
            sent += 1
        if not sent:
            raise UserError(self.env._("None of the selected records has an email address."))
        return {"type": "ir.actions.act_window_close"}
