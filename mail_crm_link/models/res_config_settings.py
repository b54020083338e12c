from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mcl_never_log = fields.Char(
        string="Never Log (All Mailboxes)",
        config_parameter="mail_crm_link.never_log",
        help="Addresses and domains whose mail is never linked to the CRM, in any mailbox.",
    )
