from odoo import api, models
from odoo.exceptions import UserError


class MailResendMessage(models.TransientModel):
    """Odoo's "Sending Failures" dialog (the red envelope of a chatter entry) on the entry of
    a mail written in the CRM: Resend sends the stored mail again through the outbox
    (``mailbox.message.action_retry_send``: its rights, its after-commit sending, never
    twice); Odoo's own resend would send the chatter entry as a second, different mail
    through Odoo's mail queue, past the outbox. Ignore marks the failure seen, and sends
    nothing."""

    _inherit = "mail.resend.message"

    @api.model
    def default_get(self, fields_list):
        # the failures and their reasons are shown only on an entry its user may read
        self.env["mail.message"].browse(
            self.env.context.get("mail_message_to_resend") or []
        ).check_access("read")
        values = super().default_get(fields_list)
        entry = self.env["mail.message"].browse(values.get("mail_message_id") or [])
        mail = entry.mcl_message_id
        if mail:
            values["partner_readonly"] = True  # the mail is sent as it was written
            if mail.sudo().send_state == "sent":  # it left for the others: nothing to resend
                lines = self.env["mail.resend.partner"].browse(
                    [command[1] for command in values.get("partner_ids", [])]
                )
                lines.write({"resend": False})
        return values

    def _compute_partner_readonly(self):
        ours = self.filtered(lambda wizard: wizard.mail_message_id.mcl_message_id)
        ours.partner_readonly = True  # the mail is sent again as it was written
        return super(MailResendMessage, self - ours)._compute_partner_readonly()

    def resend_mail_action(self):
        ours = self.filtered(lambda wizard: wizard.mail_message_id.mcl_message_id)
        for wizard in ours:
            wizard._mcl_resend()
        if self - ours:
            return super(MailResendMessage, self - ours).resend_mail_action()
        return {"type": "ir.actions.act_window_close"}

    def cancel_mail_action(self):
        ours = self.filtered(lambda wizard: wizard.mail_message_id.mcl_message_id)
        for wizard in ours:
            wizard._mcl_ignore()
        if self - ours:
            return super(MailResendMessage, self - ours).cancel_mail_action()
        return {"type": "ir.actions.act_window_close"}

    def _mcl_mail(self):
        self.ensure_one()
        mail = self.mail_message_id.mcl_message_id
        mail.check_access("read")
        return mail

    def _mcl_resend(self):
        """The whole mail again, to all its recipients, as written: it cannot leave for
        some of them only, nor again once it left."""
        mail = self._mcl_mail()
        wanted = self.partner_ids.filtered("resend")
        if not wanted:
            return self._mcl_ignore()
        if mail.sudo().send_state == "sent":
            raise UserError(
                self.env._(
                    "This mail left for its other recipients: sending it again would send it "
                    "to them twice. Correct the refused address, then write a new mail to it, "
                    "or press Ignore."
                )
            )
        if wanted != self.partner_ids:
            raise UserError(
                self.env._(
                    "A mail written in the CRM is sent again as it was written, to all its "
                    "recipients: switch them all on, or press Ignore."
                )
            )
        return mail.action_retry_send()  # checks who may; sent after the commit

    def _mcl_ignore(self):
        """Every entry of the mail stops showing the failure; the mail stays failed in the
        card's Emails list, where Retry still sends it."""
        mail = self._mcl_mail()
        notifications = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("mail_message_id.mcl_message_id", "=", mail.id),
                    ("notification_type", "=", "email"),
                    ("notification_status", "in", ("exception", "bounce")),
                ]
            )
        )
        notifications.write({"notification_status": "canceled"})
        notifications.mail_message_id._notify_message_notification_update()
        return True
