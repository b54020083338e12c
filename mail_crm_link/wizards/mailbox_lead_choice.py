from odoo import fields, models

from ..mailflow import policy


class MailboxLeadChoice(models.TransientModel):
    """ "Create Lead" on a mail whose correspondent already has open leads or deals: they are
    offered first, to link the mail to one of them, or to create a new one anyway."""

    _name = "mailbox.lead.choice"
    _inherit = "mailbox.chosen.mixin"
    # many-to-ones a user names: read back as the user (chosen.py)
    _mcl_chosen = ("message_id",)
    _description = "Link a Mail to an Open Lead or Create a New One"

    message_id = fields.Many2one("mailbox.message", string="Mail", required=True, readonly=True)
    kind = fields.Selection(
        [(policy.LEAD, "Lead"), (policy.OPPORTUNITY, "Deal")], required=True, readonly=True
    )
    line_ids = fields.One2many(
        "mailbox.lead.choice.line", "wizard_id", string="Open Leads and Deals", readonly=True
    )

    def action_create_anyway(self):
        """A new lead or deal after all (the user saw the open ones)."""
        self.ensure_one()
        return self.message_id.with_context(mcl_create_anyway=True)._mcl_create_record(self.kind)
