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

    retry_uids = fields.Char(
        string="To Ask Again",
        readonly=True,
        copy=False,
        help="UIDs the server listed but did not send when asked (twice): asked again at "
        "each sync until the server sends them or no longer holds them.",
    )
    server_count = fields.Integer(
        string="On the Server",
        readonly=True,
        copy=False,
        help="How many mails the server said the folder holds, at the last sync.",
    )
    stored_count = fields.Integer(string="Stored", compute="_compute_coverage")
    error_count = fields.Integer(string="In Error", compute="_compute_coverage")
    ignored_count = fields.Integer(string="Skipped by Rule", compute="_compute_coverage")
    coverage = fields.Char(
        compute="_compute_coverage",
        help="What the server holds and what the CRM holds of it, per folder: stored, kept "
        "in error (readable on the mail), and skipped by rule (internal mail, never-log "
        "addresses, auto-replies). A mail stored once and later moved on the server counts "
        "where it was first found; mail outside the import window is not counted.",
    )

    _mailbox_name_uniq = compat.Constraint(
        "unique(mailbox_id, name)", "A folder is listed once per mailbox."
    )

    @api.constrains("role", "sync")
    def _check_spam_not_synced(self):
        self.mailbox_id._check_spam_folder()

    @api.depends("server_count")
    def _compute_coverage(self):
        # counts over the folders the user may read (record rules), not over their mails:
        # a figure, never a mail's content
        counts = {}
        if self.ids:
            groups = (
                self.env["mailbox.message"]
                .sudo()
                .with_context(active_test=False)
                ._read_group([("folder_id", "in", self.ids)], ["folder_id", "state"], ["__count"])
            )
            for folder, state, count in groups:
                counts[folder.id, state] = count
        for folder in self:
            fid = folder._origin.id or folder.id
            stored = counts.get((fid, "new"), 0) + counts.get((fid, "linked"), 0)
            errors = counts.get((fid, "error"), 0)
            ignored = counts.get((fid, "ignored"), 0)
            folder.stored_count, folder.error_count, folder.ignored_count = stored, errors, ignored
            folder.coverage = self.env._(
                "%(folder)s: %(server)s on the server, %(stored)s stored, %(errors)s in "
                "error, %(ignored)s skipped by rule",
                folder=folder.label or folder.name or "",
                server=folder.server_count,
                stored=stored,
                errors=errors,
                ignored=ignored,
            )
