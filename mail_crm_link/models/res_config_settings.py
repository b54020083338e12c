from odoo import api, fields, models

from .fields_extra import secret_keys


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mcl_never_log = fields.Char(
        string="Never Log (All Mailboxes)",
        config_parameter="mail_crm_link.never_log",
        help="Addresses and domains whose mail is never linked to the CRM, in any mailbox.",
    )
    mcl_personal_mailboxes = fields.Boolean(
        string="Users May Connect Their Own Mailbox",
        config_parameter="mail_crm_link.personal_mailboxes",
        help="Sales users connect their own mailbox (CRM > Mail > My Mailbox, or their "
        "preferences) as a personal mailbox, with the CRM policy below.",
    )
    mcl_personal_template_id = fields.Many2one(
        "fetchmail.server",
        string="Policy of Personal Mailboxes",
        config_parameter="mail_crm_link.personal_template_id",
        domain=[("crm_link_mode", "!=", "off")],
        context={"active_test": False},
        help="A personal mailbox connected by a user gets the CRM policy of this mailbox "
        "(linking, records created, responsible, activities, privacy); its connection and "
        "password are never copied. An archived mailbox can serve as the template. Empty: "
        "automatic linking with the default policy.",
    )
    mcl_secret_key_set = fields.Boolean(
        string="Encryption Key Configured", compute="_compute_mcl_secret_key_set"
    )

    @api.depends("company_id")
    def _compute_mcl_secret_key_set(self):
        for settings in self:
            settings.mcl_secret_key_set = secret_keys() is not None

    def action_mcl_encrypt_secrets(self):
        count = self.env["fetchmail.server"]._mcl_encrypt_secrets()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("%s mailbox secrets encrypted.", count),
            },
        }
