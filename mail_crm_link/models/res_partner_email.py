from odoo import api, fields, models

from .. import compat
from ..mailflow import addresses


class ResPartnerEmail(models.Model):
    """More addresses of one contact, used to match mail (Odoo keeps one per partner)."""

    _name = "res.partner.email"
    _description = "Additional Email Address of a Contact"
    _order = "partner_id, sequence, id"
    _rec_name = "email"

    partner_id = fields.Many2one(
        "res.partner", string="Contact", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    email = fields.Char(required=True)
    email_normalized = fields.Char(compute="_compute_email_normalized", store=True, index=True)
    note = fields.Char(string="Used For", help="Private address, old address, assistant…")

    _partner_email_uniq = compat.Constraint(
        "unique(partner_id, email_normalized)", "This address is already on the contact."
    )

    @api.depends("email")
    def _compute_email_normalized(self):
        for extra in self:
            extra.email_normalized = addresses.normalize(extra.email) or False

    # -- rights: those of the contact (issue 23, finding 10) ---------------------------------
    # An extra address decides whose card a correspondent's future mail lands on: adding one
    # to a contact, moving one to another or removing it is editing those contacts.
    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if not self.env.su:
            records.partner_id.check_access("write")
        return records

    def write(self, vals):
        if not self.env.su:
            self.partner_id.check_access("write")
        result = super().write(vals)
        if not self.env.su and "partner_id" in vals:
            self.partner_id.check_access("write")
        return result

    def unlink(self):
        if not self.env.su:
            self.partner_id.check_access("write")
        return super().unlink()
