from odoo import models


class MailNotification(models.Model):
    _inherit = "mail.notification"

    def format_failure_reason(self):
        """The Resend dialog of a mail written in the CRM says our sentence (what failed and
        what to do), not only Odoo's name of the failure type."""
        self.ensure_one()
        if self.failure_reason and self.sudo().mail_message_id.mcl_message_id:
            return self.failure_reason
        return super().format_failure_reason()
