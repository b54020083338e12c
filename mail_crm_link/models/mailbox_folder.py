from odoo import api, fields, models

from .. import compat
from .fields_extra import BigInteger


class MailboxFolder(models.Model):
    """A folder of a mailbox and its sync checkpoint (UIDVALIDITY + last UID stored)."""

    _name = "mailbox.folder"
    _description = "Mailbox Folder"
    _order = "mailbox_id, sequence, id"
    _rec_name = "label"

    mailbox_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    name = fields.Char(string="Server Name", required=True, help="As the server spells it.")
    label = fields.Char(string="Folder", required=True)
    sequence = fields.Integer(default=10)
    role = fields.Selection(
        [
            ("inbox", "Inbox"),
            ("sent", "Sent"),
            ("spam", "Spam"),
            ("drafts", "Drafts"),
            ("trash", "Trash"),
            ("all", "All Mail"),
            ("other", "Other"),
        ],
        default="other",
        required=True,
        help="Found from the server's SPECIAL-USE marks or the folder's usual names. Only the "
        "Inbox and Sent are synchronized by default; Spam never. All Mail (Gmail) holds every "
        "mail of the other folders again.",
    )
    sync = fields.Boolean(string="Synchronize", default=True)
    uidvalidity = BigInteger(string="UIDVALIDITY", readonly=True, copy=False)
    last_uid = BigInteger(string="Last UID Stored", readonly=True, copy=False)
    import_since = fields.Datetime(
        readonly=True, copy=False, help="Window of an initial import still under way."
    )
    import_total = fields.Integer(string="To Import", readonly=True, copy=False)
    import_done = fields.Integer(string="Imported", readonly=True, copy=False)
    sync_warning = fields.Char(
        string="Server Warning",
        readonly=True,
        copy=False,
        help="What the server answered that contradicted its own counts at the last sync, "
        "and what mail_crm_link did about it.",
    )

    _mailbox_name_uniq = compat.Constraint(
        "unique(mailbox_id, name)", "A folder is listed once per mailbox."
    )

    @api.constrains("role", "sync")
    def _check_spam_not_synced(self):
        self.mailbox_id._check_spam_folder()
