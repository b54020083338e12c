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

    def _extras_to_store(self, store, format_reply):
        """The chatter tells received from sent mail at a glance (``mcl_direction``, shown
        by the ``mail.Message`` extension of ``email_timeline.xml``)."""
        result = super()._extras_to_store(store, format_reply=format_reply)
        # sudo: the entry is readable, so is the direction of the mail it shows
        for message in self.sudo().filtered("mcl_message_id"):
            store.add(message, {"mcl_direction": message.mcl_message_id.direction or False})
        return result
