from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    mcl_message_id = fields.Many2one(
        "mailbox.message",
        string="Mailbox Mail",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The stored mail this chatter entry shows (its visibility follows the mail's).",
    )
