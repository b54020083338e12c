from odoo import fields, models


class MailboxLeadChoiceLine(models.TransientModel):
    """One open lead or deal offered by ``mailbox.lead.choice``."""

    _name = "mailbox.lead.choice.line"
    _inherit = "mailbox.chosen.mixin"
    # many-to-ones a user names: read back as the user (chosen.py). The related fields
    # below are read as superuser (Odoo's default for related fields): a line naming a lead
    # the user may not read would show its client, stage, salesperson and revenue (issue 23,
    # finding 3). The offer lists only leads the user may read; a line made over RPC is held
    # to the same.
    _mcl_chosen = ("lead_id", "wizard_id")
    _description = "Open Lead or Deal Offered for a Mail"
    _order = "id"

    wizard_id = fields.Many2one("mailbox.lead.choice", required=True, ondelete="cascade")
    lead_id = fields.Many2one("crm.lead", string="Lead/Deal", required=True, readonly=True)
    type = fields.Selection(related="lead_id.type")
    partner_id = fields.Many2one(related="lead_id.partner_id")
    stage_id = fields.Many2one(related="lead_id.stage_id")
    user_id = fields.Many2one(related="lead_id.user_id")
    expected_revenue = fields.Monetary(
        related="lead_id.expected_revenue", currency_field="company_currency"
    )
    company_currency = fields.Many2one(related="lead_id.company_currency")
    # not "write_date": that is the magic column of this transient model, which the hourly
    # vacuum reads (a related field of that name has no column: UndefinedColumn)
    lead_write_date = fields.Datetime(related="lead_id.write_date", string="Last Updated")

    def action_link(self):
        """Link the mail to this lead or deal (the link checks that the user may edit it) and
        open it."""
        self.ensure_one()
        lead = self.lead_id
        self.env["mailbox.message.link"]._add_links(self.wizard_id.message_id, lead)
        return {
            "type": "ir.actions.act_window",
            "res_model": "crm.lead",
            "res_id": lead.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
