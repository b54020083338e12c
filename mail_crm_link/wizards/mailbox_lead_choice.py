from odoo import api, fields, models

from ..mailflow import policy
from . import chosen


class MailboxLeadChoice(models.TransientModel):
    """ "Create Lead" on a mail whose correspondent already has open leads or deals: they are
    offered first, to link the mail to one of them, or to create a new one anyway."""

    _name = "mailbox.lead.choice"
    # many-to-ones a user names: read back as the user (chosen.py)
    _MCL_CHOSEN = ("message_id",)
    _description = "Link a Mail to an Open Lead or Create a New One"

    message_id = fields.Many2one("mailbox.message", string="Mail", required=True, readonly=True)
    kind = fields.Selection(
        [(policy.LEAD, "Lead"), (policy.OPPORTUNITY, "Deal")], required=True, readonly=True
    )
    line_ids = fields.One2many(
        "mailbox.lead.choice.line", "wizard_id", string="Open Leads and Deals", readonly=True
    )

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        chosen.check_chosen(records, self._MCL_CHOSEN)
        return records

    def write(self, vals):
        result = super().write(vals)
        chosen.check_written(self, vals, self._MCL_CHOSEN)
        return result

    def action_create_anyway(self):
        """A new lead or deal after all (the user saw the open ones)."""
        self.ensure_one()
        return self.message_id.with_context(mcl_create_anyway=True)._mcl_create_record(self.kind)
