from odoo import models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        """Marking a mail's Email activity done on the card marks the mail processed."""
        messages = self.env["mailbox.message"].sudo().search([("activity_id", "in", self.ids)])
        messages.write({"processed": True})
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)
