from odoo import api, fields, models


class MailTemplate(models.Model):
    """CRM mail templates: personal (their owner only) or shared with all users or with
    chosen groups. Who sees which is a record rule (see security); Odoo's own templates are
    untouched."""

    _inherit = "mail.template"

    mcl_crm = fields.Boolean(
        string="CRM Mailbox Template",
        help="Offered when writing from a contact, company, lead or deal through a mailbox.",
    )
    mcl_sharing = fields.Selection(
        [("personal", "Only me"), ("all", "All users"), ("groups", "Chosen groups")],
        string="Shared With",
        default="personal",
        required=True,
    )
    mcl_group_ids = fields.Many2many(
        "res.groups",
        "mail_template_mcl_group_rel",
        "template_id",
        "group_id",
        string="Groups",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("mcl_crm") and not vals.get("user_id"):
                vals["user_id"] = self.env.uid  # a CRM template belongs to its author
        return super().create(vals_list)
