import xmlrpc.client

from odoo import api, models
from odoo.exceptions import AccessError


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    @api.model
    def message_process(
        self,
        model,
        message,
        custom_values=None,
        save_original=False,
        strip_attachments=False,
        thread_id=None,
    ):
        """Mail sent to a mailbox's forwarding alias (Odoo's mail gateway receives it) is
        stored, linked and run through the create policy as that mailbox's own mail."""
        raw = message
        if isinstance(raw, xmlrpc.client.Binary):
            raw = bytes(raw.data)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        # Odoo's gateway (fetchmail, the mailgate script) runs as superuser or an administrator.
        # Public in Odoo, this method would let any user over RPC deliver a forged mail: into
        # a colleague's mailbox through its forwarding alias (as superuser, since this
        # addon stores it), or as a new lead of anybody's. Refused to everyone else.
        if not (self.env.su or self.env.is_system()):
            raise AccessError(
                self.env._("Only Odoo's mail gateway (an administrator) may deliver mail.")
            )
        mailbox = self.env["fetchmail.server"].sudo()._mcl_mailbox_for_forward(raw)
        if mailbox:
            return mailbox._mcl_store_forwarded(raw)
        return super().message_process(
            model,
            message,
            custom_values=custom_values,
            save_original=save_original,
            strip_attachments=strip_attachments,
            thread_id=thread_id,
        )
