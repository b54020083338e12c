from odoo import models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        """Marking a mail's Email activity done on the card marks the mail processed; the mail
        lets go of it (Odoo 18 deletes a done activity, 19 keeps it archived)."""
        messages = self.env["mailbox.message"].sudo().search([("activity_id", "in", self.ids)])
        messages.write({"processed": True, "activity_id": False})
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)
