from odoo import api, fields, models
from odoo.exceptions import AccessError


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

    @api.model_create_multi
    def create(self, vals_list):
        self._mcl_check_own_field(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        self._mcl_check_own_field([vals])
        return super().write(vals)

    def _mcl_check_own_field(self, vals_list):
        """Which stored mail a chatter entry shows is this addon's to say (the entry's
        visibility follows it): a user pointing their own entry at a colleague's private
        mail over RPC is refused."""
        if self.env.su or not any("mcl_message_id" in vals for vals in vals_list):
            return
        raise AccessError(self.env._("The mail a chatter entry shows is set by mail_crm_link."))

    def _extras_to_store(self, store, format_reply):
        """The chatter tells received from sent mail at a glance (``mcl_direction``, shown
        by the ``mail.Message`` extension of ``email_timeline.xml``)."""
        result = super()._extras_to_store(store, format_reply=format_reply)
        # sudo: the entry is readable, so is the direction of the mail it shows
        for message in self.sudo().filtered("mcl_message_id"):
            store.add(message, {"mcl_direction": message.mcl_message_id.direction or False})
        return result
