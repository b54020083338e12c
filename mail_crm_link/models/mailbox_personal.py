from odoo import api, fields, models
from odoo.exceptions import AccessError

_STATUS_FIELDS = ("state", "last_sync_at", "last_error", "sync_warning")


class MailboxPersonal(models.AbstractModel):
    """A personal mailbox as its owner sees it ("My Mailbox"): its state, and the two things
    the owner may do without being an administrator: ask for a sync, and disconnect.

    Mixed into ``fetchmail.server``. Sales users have read access only (record rules: their
    own and the shared mailboxes; the secrets are for administrators only): the buttons here
    check ownership, then write a fixed set of values as superuser.
    """

    _name = "mailbox.personal"
    _description = "Personal Mailbox of a User"

    mcl_connected_by_owner = fields.Boolean(
        string="Connected by Its Owner",
        readonly=True,
        copy=False,
        help="Connected by its owner with 'Connect my mailbox'; the CRM policy comes from "
        "the default the administrators chose for personal mailboxes.",
    )
    mcl_status = fields.Selection(
        [
            ("disconnected", "Disconnected"),
            ("waiting", "Connected, waiting for the first sync"),
            ("ok", "Synchronized"),
            ("failing", "The last sync failed"),
            ("warning", "Synchronized, with server warnings"),
        ],
        string="Sync Status",
        compute="_compute_mcl_status",
    )

    # fetchmail.server's fields: absent from this mixin on its own
    @api.depends(lambda self: _STATUS_FIELDS if "state" in self._fields else ())
    def _compute_mcl_status(self):
        for mailbox in self:
            if mailbox.state != "done":
                mailbox.mcl_status = "disconnected"
            elif mailbox.last_error:
                mailbox.mcl_status = "failing"
            elif not mailbox.last_sync_at:
                mailbox.mcl_status = "waiting"
            elif mailbox.sync_warning:
                mailbox.mcl_status = "warning"
            else:
                mailbox.mcl_status = "ok"

    @api.model
    def _mcl_mine_domain(self):
        return [
            ("owner_id", "=", self.env.uid),
            ("mailbox_access", "=", "personal"),
            ("crm_link_mode", "!=", "off"),
        ]

    def _mcl_check_mine(self):
        """The current user may read these mailboxes (record rules) and owns them: what the
        superuser writes next is limited to such mailboxes."""
        self.check_access("read")
        for mailbox in self:
            if mailbox.owner_id != self.env.user or mailbox.mailbox_access != "personal":
                raise AccessError(
                    self.env._("Only the owner of mailbox %s can do this.", mailbox.name)
                )

    def action_mcl_sync_mine(self):
        """Sync Now, for the owner: the sync itself runs in the sync cron, as always."""
        self._mcl_check_mine()
        self.filtered(lambda m: m.state == "done").sudo().action_sync_now()
        return True

    def action_mcl_disconnect(self):
        """Stop syncing and forget the password and tokens; the stored mail stays."""
        self._mcl_check_mine()
        values = dict.fromkeys(self._mcl_secret_columns(), False)
        values.update(
            {"state": "draft", "next_sync_at": False, "push_enabled": False, "last_error": False}
        )
        self.sudo().write(values)
        return True

    def action_mcl_reconnect(self):
        """Open "Connect my mailbox" with this mailbox's address and server filled in."""
        self._mcl_check_mine()
        self.ensure_one()
        return self.env["mailbox.connect"]._mcl_action(
            {
                "default_email": self.email_address or self.user,
                "default_login": self.user,
                "default_server": self.server,
                "default_port": self.port,
                "default_connection_security": self.connection_security,
                "default_protocol": "pop" if self.server_type == "pop" else "imap",
            }
        )
