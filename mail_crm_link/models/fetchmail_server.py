from odoo import fields, models


class FetchmailServer(models.Model):
    """A mailbox: Odoo's incoming mail server, extended with CRM linking."""

    _inherit = "fetchmail.server"

    crm_link_mode = fields.Selection(
        [
            ("off", "Off (Odoo's own mail gateway)"),
            ("manual", "Manual linking only"),
            ("auto", "Automatic linking"),
        ],
        string="CRM Linking",
        default="off",
        required=True,
        help="Off: the mailbox works exactly as Odoo's native incoming mail server.\n"
        "Manual: every message is stored and listed, links are made by hand.\n"
        "Automatic: messages are linked to contacts, companies, leads and deals.",
    )
