from odoo import models


class MailResendPartner(models.TransientModel):
    _inherit = "mail.resend.partner"

    def action_resend(self):
        """A recipient of a mail written in the CRM is never resent by Odoo's mail queue:
        the whole mail goes through the outbox (see ``mail.resend.message``)."""
        ours = self.filtered(lambda line: line.resend_wizard_id.mail_message_id.mcl_message_id)
        for wizard in ours.resend_wizard_id:
            wizard._mcl_resend()
        if self - ours:
            return super(MailResendPartner, self - ours).action_resend()
        return {"type": "ir.actions.act_window_close"}
