from odoo import fields, models


class MailNotification(models.Model):
    _inherit = "mail.notification"

    mcl_send_state = fields.Boolean(
        readonly=True,
        help="Shows the delivery state of a mail written in the CRM (kept by its outbox), "
        "not a notification Odoo made for a follower.",
    )

    def format_failure_reason(self):
        """The Resend dialog of a mail written in the CRM says our sentence (what failed and
        what to do), not only Odoo's name of the failure type."""
        self.ensure_one()
        if self.failure_reason and self.sudo().mail_message_id.mcl_message_id:
            return self.failure_reason
        return super().format_failure_reason()
