import logging
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import compat
from ..mailflow import addresses, imap_sync, oauth, outbox, parse, policy, pop_sync, rules
from .fields_extra import SecretChar

_logger = logging.getLogger(__name__)

# what Odoo's own fetch cron looks at to know whether it has mailboxes to fetch
GATEWAY_CRON_FIELDS = {"state", "server_type", "active", "crm_link_mode"}
# What Odoo's consent controllers write on the mailbox when its owner connects it again.
RECONNECT_FIELDS = ("google_gmail_refresh_token", "microsoft_outlook_refresh_token")


class FetchmailServer(models.Model):
    """A mailbox: Odoo's incoming mail server, extended with CRM linking.

    Mailboxes with CRM linking off keep Odoo's native fetchmail path, untouched. The others are
    synced here: every message stored once (``mailbox.message``), the server never changed.

    Table of contents of a sync (``_mcl_sync``): lock → connect → per folder: examine, plan,
    search, fetch in batches → store → checkpoint (commit) → record success or failure.
    """

    _name = "fetchmail.server"
    _inherit = [
        "fetchmail.server",
        "mailbox.crm.policy",
        "mailbox.secrets",
        "mailbox.personal",
        "mailbox.triage",
    ]

    crm_link_mode = fields.Selection(
        [
            ("off", "Off (Odoo's own mail gateway)"),
            ("manual", "Manual linking only"),
            ("auto", "Automatic linking"),
        ],
        string="CRM Linking",
        default="off",
        required=True,
        help="Off: the mailbox works exactly as Odoo's native incoming mail server.\n"
        "Manual: every message is stored and listed, links are made by hand.\n"
        "Automatic: messages are linked to contacts, companies, leads and deals.",
    )
    password = SecretChar(groups="base.group_system")
    connection_security = fields.Selection(
        [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None (plain text)")],
        string="Security",
        default="ssl",
        required=True,
    )
    tls_verify = fields.Boolean(
        string="Verify Certificate",
        default=True,
        help="Refuse servers whose TLS certificate cannot be verified. Turn off only for a "
        "server with a self-signed certificate you trust.",
    )
    folder_ids = fields.One2many("mailbox.folder", "mailbox_id", string="Folders")
    import_window = fields.Selection(
        [("days", "Recent mail only"), ("all", "Everything")],
        string="Initial Import",
        default="days",
        required=True,
    )
    import_days = fields.Integer(string="Import the Last (Days)", default=7)
    poll_interval = fields.Integer(string="Polling Interval (Minutes)", default=5)
    push_enabled = fields.Boolean(
        string="Push (IMAP IDLE)",
        help="New mail is imported within seconds by the mailbox_listen command "
        "(odoo-bin mailbox_listen -d DATABASE); polling still runs as a safety net.",
    )
    mailbox_access = fields.Selection(
        [("shared", "Shared: all internal users"), ("personal", "Personal")],
        string="Access",
        default="shared",
        required=True,
    )
    owner_id = fields.Many2one("res.users", default=lambda self: self.env.user, index=True)
    member_ids = fields.Many2many("res.users", string="Also Visible To")
    internal_domains = fields.Text(
        string="Internal Domains and Addresses",
        default=lambda self: self._default_internal_domains(),
        help="Mail from these domains or addresses is ours (outgoing); mail whose every "
        "participant is internal is not CRM material. Separate entries with commas.",
    )
    pop_delete = fields.Boolean(
        string="Delete from Server After Import",
        help="POP3 only: delete each message from the server once it is safely stored.",
    )
    next_sync_at = fields.Datetime(string="Next Sync", copy=False)
    last_sync_at = fields.Datetime(string="Last Sync", readonly=True, copy=False)
    last_error = fields.Text(readonly=True, copy=False)
    reconnect_needed = fields.Boolean(
        readonly=True,
        copy=False,
        help="Gmail or Microsoft 365 no longer renews this mailbox's access: its owner signs "
        "in again with Reconnect.",
    )
    failure_count = fields.Integer(string="Failed Attempts", readonly=True, copy=False)
    connect_timeout = fields.Integer(
        string="Timeout (Seconds)",
        default=30,
        help="A server that does not answer within this time delays only its own mailbox.",
    )
    mailbox_message_ids = fields.One2many("mailbox.message", "mailbox_id", string="Stored Mail")
    count_new = fields.Integer(compute="_compute_counts", string="New")
    count_linked = fields.Integer(compute="_compute_counts", string="Linked")
    count_ignored = fields.Integer(compute="_compute_counts", string="Ignored")
    count_failed = fields.Integer(compute="_compute_counts", string="Failed")
    email_address = fields.Char(
        string="Mailbox Address",
        help="The address of this mailbox, used as sender of mail written from the CRM "
        "(empty: the login when it is an address).",
    )
    send_as_aliases = fields.Text(
        string="May Also Send As",
        help="Other addresses this mailbox may send from (its aliases, a shared address), one "
        "per line. Mail written from the CRM leaves only from the mailbox's address, these, "
        "or the sending user's own address: a template's From that is none of them is "
        "refused.",
    )
    mail_server_id = fields.Many2one(
        "ir.mail_server",
        string="Outgoing Server",
        help="The SMTP server that sends mail written from the CRM for this mailbox "
        "(empty: Odoo's default outgoing server).",
    )
    save_sent = fields.Boolean(
        string="Save Sent Mail in the Sent Folder",
        compute="_compute_save_sent",
        store=True,
        readonly=False,
        precompute=True,
        help="Mail written from the CRM is added to this mailbox's Sent folder (IMAP) once "
        "it is sent, so it shows in your own mail program too. Off by default for Gmail "
        "(imap.gmail.com) and Office 365 (outlook.office365.com): when the mail leaves through "
        "their own SMTP server with this account, that server files it in the Sent folder "
        "itself, and a second copy from Odoo would show every mail twice. Turn it on for them "
        "when the outgoing server is another one.",
    )
    copy_mode = fields.Selection(
        [("reply_to", "Reply-To: the mailbox"), ("cc", "Cc: the mailbox")],
        string="When Sent From Another Address",
        default="reply_to",
        required=True,
        help="Mail written from the CRM but sent from the user's or the template's address "
        "still brings the client's answer to this mailbox.",
    )
    allow_any_address = fields.Boolean(
        string="Allow Sending to Any Address",
        default=True,
        help="Off: mail written from the CRM goes only to addresses the CRM knows. On: a new "
        "address follows the policy for mail to an unknown address (never a duplicate "
        "contact).",
    )
    open_tracking = fields.Boolean(
        help="Mail written from the CRM to clients carries a 1x1 image with a signed token; "
        "opening it records the first and last open and a count. Mail to colleagues is "
        "never tracked.",
    )
    forward_alias = fields.Char(
        string="Forwarding Alias",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Mail forwarded to this address (a Gmail routing rule, say) is handled as mail "
        "of this mailbox.",
    )
    forward_address = fields.Char(compute="_compute_forward_address", string="Forwarding Address")
    import_done = fields.Integer(compute="_compute_import_progress")
    import_total = fields.Integer(compute="_compute_import_progress")
    job_ids = fields.One2many("mailbox.sync.job", "mailbox_id", string="Background Jobs")
    job_progress = fields.Char(compute="_compute_job_progress", string="In the Background")
    sync_warning = fields.Text(compute="_compute_sync_warning", string="Server Warnings")
    mcl_warning_notified = fields.Text(
        string="Server Warnings Notified",
        readonly=True,
        copy=False,
        groups="base.group_system",
        help="The server warnings the owner and the administrators were last told about.",
    )
    mcl_coverage = fields.Text(
        compute="_compute_mcl_coverage",
        string="Coverage",
        help="Per synchronized folder, at the last sync: what the server holds, what is "
        "stored, what is kept in error and what was skipped by rule.",
    )

    _poll_interval_min = compat.Constraint(
        "CHECK(poll_interval >= 1)", "The polling interval is at least one minute."
    )
    _connect_timeout_positive = compat.Constraint(
        "CHECK(connect_timeout > 0)", "The timeout must be at least one second."
    )
    _import_days_positive = compat.Constraint(
        "CHECK(import_days >= 0)", "The import window cannot be negative."
    )

    # -- defaults, computes, constraints --------------------------------------------------------
    @api.model
    def _default_internal_domains(self):
        companies = self.env["res.company"].sudo().search([("email", "!=", False)])
        users = self.env["res.users"].sudo().search([("share", "=", False)])
        emails = companies.mapped("email") + users.mapped("email")
        generic = {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "example.com"}
        domains = {addresses.domain_of(addresses.normalize(e)) for e in emails if e}
        return ", ".join(sorted(d for d in domains if d and d not in generic))

    def _compute_counts(self):
        groups = self.env["mailbox.message"]._read_group(
            [("mailbox_id", "in", self.ids)], ["mailbox_id", "state"], ["__count"]
        )
        counts = {(mailbox.id, state): count for mailbox, state, count in groups}
        for mailbox in self:
            mailbox.count_new = counts.get((mailbox.id, "new"), 0)
            mailbox.count_linked = counts.get((mailbox.id, "linked"), 0)
            mailbox.count_ignored = counts.get((mailbox.id, "ignored"), 0)
            mailbox.count_failed = counts.get((mailbox.id, "error"), 0)

    @api.depends("server")
    def _compute_save_sent(self):
        for mailbox in self:
            mailbox.save_sent = outbox.saves_sent_by_default(mailbox.server)

    @api.depends("forward_alias")
    def _compute_forward_address(self):
        domain = self.env.company.alias_domain_id.name or self.env[
            "ir.config_parameter"
        ].sudo().get_param("mail.catchall.domain")
        for mailbox in self:
            mailbox.forward_address = (
                f"{mailbox.forward_alias}@{domain}" if mailbox.forward_alias and domain else False
            )

    def action_create_forward_alias(self):
        """A unique, unguessable address that feeds this mailbox (see ``mail.thread``)."""
        for mailbox in self:
            mailbox.forward_alias = f"mcl-{mailbox.id}-{secrets.token_hex(8)}"
        return True

    @api.model
    def _mcl_mailbox_for_forward(self, raw):
        """The mailbox whose forwarding alias ``raw`` was delivered to, if any."""
        locals_ = {
            a.partition("@")[0] for a in parse.envelope_recipients(raw) if a.startswith("mcl-")
        }
        if not locals_:
            return self.browse()
        return self.search(
            [("forward_alias", "in", list(locals_)), ("crm_link_mode", "!=", "off")], limit=1
        )

    def _mcl_store_forwarded(self, raw):
        """Store forwarded mail as mail of this mailbox's Inbox, then link it."""
        self.ensure_one()
        records = self.env["mailbox.message.store"]._store_forwarded(self, raw)
        return records[:1].id or False

    @api.depends("folder_ids.sync_warning", "folder_ids.sync")
    def _compute_sync_warning(self):
        for mailbox in self:
            folders = mailbox.folder_ids.filtered("sync")  # an unticked folder is not synced
            mailbox.sync_warning = (
                "\n".join(w for w in folders.mapped("sync_warning") if w) or False
            )

    @api.depends("folder_ids.coverage", "folder_ids.sync", "folder_ids.server_count")
    def _compute_mcl_coverage(self):
        for mailbox in self:
            folders = mailbox.folder_ids.filtered(
                lambda f: f.sync and f.role != "spam" and (f.server_count or f.stored_count)
            )
            mailbox.mcl_coverage = "\n".join(folders.mapped("coverage")) or False

    @api.depends("job_ids.state", "job_ids.done", "job_ids.total")
    def _compute_job_progress(self):
        for mailbox in self:
            pending = mailbox.job_ids.filtered(lambda j: j.state == "pending")
            mailbox.job_progress = ", ".join(pending.mapped("progress")) or False

    @api.depends(
        "folder_ids.import_done", "folder_ids.import_total", "folder_ids.sync", "folder_ids.role"
    )
    def _compute_import_progress(self):
        """The initial import of the folders synchronized, each never more done than planned."""
        for mailbox in self:
            synced = mailbox.folder_ids.filtered(lambda f: f.sync and f.role != "spam")
            pairs = [rules.progress(f.import_done, f.import_total) for f in synced]
            mailbox.import_done = sum(done for done, _total in pairs)
            mailbox.import_total = sum(total for _done, total in pairs)

    @api.constrains("folder_ids")
    def _check_spam_folder(self):
        for mailbox in self:
            for folder in mailbox.folder_ids:
                if folder.role == "spam" and folder.name.upper() == "INBOX":
                    raise ValidationError(
                        self.env._(
                            "The Inbox cannot be the Spam folder of mailbox %s: its mail would "
                            "never be imported.",
                            mailbox.name,
                        )
                    )
                if folder.role == "spam" and folder.sync:
                    raise ValidationError(
                        self.env._(
                            "The Spam folder %(folder)s of mailbox %(mailbox)s is never "
                            "synchronized.",
                            folder=folder.label,
                            mailbox=mailbox.name,
                        )
                    )

    @api.onchange("connection_security", "server_type")
    def _onchange_connection_security(self):
        if self.server_type in oauth.PROVIDER_TYPES:
            self.connection_security = "ssl"  # Google and Microsoft: IMAP over TLS only
        self.is_ssl = self.connection_security == "ssl"
        if self.server_type == "imap":
            self.port = 993 if self.is_ssl else 143
        elif self.server_type == "pop":
            self.port = 995 if self.is_ssl else 110

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            _sync_is_ssl(vals)
        Model = self
        if all(vals.get("crm_link_mode", "off") != "off" for vals in vals_list):
            Model = compat.gateway_cron_untouched(self)  # not Odoo's cron's business
        mailboxes = super(FetchmailServer, Model).create(vals_list).with_env(self.env)
        mailboxes.filtered(lambda m: m.crm_link_mode != "off")._mcl_ensure_source()
        return mailboxes

    def write(self, vals):
        _sync_is_ssl(vals)
        reconnected = self.browse()
        if any(vals.get(field) for field in RECONNECT_FIELDS):
            # a new consent (Odoo's /google_gmail/confirm or /microsoft_outlook/confirm stores
            # the new refresh token) on a mailbox that waits for it: synced at once, not after
            # the failure backoff that grew while nobody reconnected
            reconnected = self.filtered(lambda m: m.reconnect_needed and m._mcl_is_linked())
        if GATEWAY_CRON_FIELDS.intersection(vals):
            result = super().write(vals)
        else:
            # a sync's status, say: Odoo's cron is left alone. Its update also flushed the
            # write (a search); kept, so that a write is not lost when its caller's environment
            # is gone before the commit (the cursor flushes through the environments alive)
            result = super(FetchmailServer, compat.gateway_cron_untouched(self)).write(vals)
            self.flush_recordset()
        if reconnected:
            super(FetchmailServer, compat.gateway_cron_untouched(reconnected)).write(
                {"next_sync_at": fields.Datetime.now(), "failure_count": 0}
            )
            reconnected.flush_recordset()
            self.env.ref("mail_crm_link.ir_cron_mailbox_sync").sudo()._trigger()
        if vals.get("crm_link_mode", "off") != "off" or "source_id" in vals:
            self.filtered(lambda m: m.crm_link_mode != "off")._mcl_ensure_source()
        return result

    def unlink(self):
        records = self
        if all(mailbox._mcl_is_linked() for mailbox in self):
            records = compat.gateway_cron_untouched(self)
        return super(FetchmailServer, records).unlink()

    def _internal_set(self):
        self.ensure_one()
        return addresses.parse_internal(self.internal_domains)

    def _mcl_address(self):
        self.ensure_one()
        return addresses.normalize(self.email_address or self.user or "")

    def _mcl_check_send_as(self, sender, user):
        """Refuse a From this mailbox may not send as (issue 23: a template any employee may
        write must not make the company's server send as anybody)."""
        self.ensure_one()
        allowed = policy.send_as_addresses(
            self.email_address, self.user, self.send_as_aliases, user.email
        )
        if addresses.normalize(sender or "") not in allowed:
            raise UserError(
                self.env._(
                    "Mailbox %(mailbox)s may not send as %(sender)s: it sends only as "
                    "%(allowed)s. An administrator may add the address to the mailbox's "
                    '"May Also Send As" list.',
                    mailbox=self.name,
                    sender=sender,
                    allowed=", ".join(sorted(allowed)),
                )
            )

    def _mcl_saves_sent(self):
        """Whether mail sent from the CRM is APPENDed to this mailbox's Sent folder."""
        self.ensure_one()
        return bool(
            self.save_sent
            and self.server_type in oauth.IMAP_TYPES
            and self.folder_ids.filtered(lambda f: f.role == "sent")
        )

    def _mcl_apply_private(self, messages):
        """Mark ``messages`` of this mailbox private when they are mail of its private
        correspondents (run by the background job, see ``action_apply_private``)."""
        self.ensure_one()
        internal = self._internal_set()
        private = messages.filtered(
            lambda m: (
                not m.private
                and self._mcl_is_private(
                    m.direction,
                    m.sender,
                    [a for _n, a in addresses.parse_list([m.email_to or "", m.email_cc or ""])],
                    internal,
                )
            )
        )
        private.write({"private": True})
        return private

    def action_apply_private(self):
        """Apply the private correspondents to all the stored mail, in the background."""
        self.check_access("write")
        self.env["mailbox.sync.job"]._schedule(self, "private")
        return True

    def _mcl_is_linked(self):
        return self.crm_link_mode != "off" and self.server_type in ("pop", *oauth.IMAP_TYPES)

    # -- buttons ------------------------------------------------------------------------------
    def button_confirm_login(self):
        """Test the connection; for CRM mailboxes, say clearly what is wrong and find folders.
        Who may edit the mailbox only: the rights are checked before the stored secret is
        used to log in."""
        self.check_access("write")
        native = self.filtered(lambda m: not m._mcl_is_linked())
        if native:
            super(FetchmailServer, native).button_confirm_login()
        for mailbox in self - native:
            try:
                conn = mailbox._mcl_connect()
            except Exception as exc:  # noqa: BLE001 (any failure is explained to the user)
                raise UserError(mailbox._mcl_error_message(exc)) from None
            try:
                if mailbox.server_type in oauth.IMAP_TYPES:
                    mailbox._mcl_detect_folders(conn)
            finally:
                mailbox._mcl_disconnect(conn)
            mailbox.write(
                {
                    "state": "done",
                    "last_error": False,
                    "failure_count": 0,
                    "reconnect_needed": False,
                }
            )
        return True

    def action_detect_folders(self):
        """List the server's folders again (who may edit the mailbox: checked before the
        stored secret is used to log in)."""
        self.check_access("write")
        for mailbox in self.filtered(lambda m: m.server_type in oauth.IMAP_TYPES):
            conn = mailbox._mcl_connect()
            try:
                mailbox._mcl_detect_folders(conn)
            finally:
                mailbox._mcl_disconnect(conn)
        return True

    def action_reconnect(self):
        """Gmail / Microsoft 365: Odoo's consent page again (access withdrawn or expired)."""
        self.ensure_one()
        return self.env["mailbox.oauth"]._consent_action(self)

    def action_sync_now(self):
        """Ask for a sync of these mailboxes as soon as possible (by the sync cron, which may
        commit per batch; a button or an automated action must not)."""
        self.write({"next_sync_at": fields.Datetime.now()})
        self.env.ref("mail_crm_link.ir_cron_mailbox_sync")._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._(
                    "Sync requested: it starts within a few seconds, in the background. "
                    "Progress and errors show on the mailbox."
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def fetch_mail(self, *args, **kwargs):
        """Odoo's "Fetch Now": native for mailboxes with linking off, ours for the others.
        (Its arguments differ between 18 and 19: passed on as they come.)"""
        native = self.filtered(lambda m: not m._mcl_is_linked())
        if self - native:
            (self - native).action_sync_now()
        if native:
            return super(FetchmailServer, native).fetch_mail(*args, **kwargs)
        return True

    @api.model
    def _fetch_mails(self, **kwargs):
        """Odoo's fetch cron keeps the native mailboxes only; ours have their own cron."""
        native = self.search(
            [
                ("state", "=", "done"),
                ("server_type", "!=", "local"),
                ("crm_link_mode", "=", "off"),
            ]
        )
        return compat.fetch_native(native, **kwargs)

    # -- the sync (see the mailbox.sync service) ------------------------------------------------
    @api.model
    def _cron_sync(self, time_budget=240):
        """The cron's entry point (kept for existing cron records)."""
        return self.env["mailbox.sync"].cron_sync(time_budget=time_budget)

    def _mcl_sync(self, deadline=None, **kwargs):
        """Sync this mailbox now (commits per batch: only where committing is fine, such as
        a script or ``odoo-bin shell``); see ``mailbox.sync.sync`` for the result."""
        self.ensure_one()
        return self.env["mailbox.sync"].sync(self, deadline=deadline, **kwargs)

    def action_relink(self):
        """Run matching again on all the mail of these mailboxes, in the background (asking
        again while it runs keeps its progress: see ``mailbox.sync.job._schedule``)."""
        self.check_access("write")
        self.env["mailbox.sync.job"]._schedule(self, "relink")
        return True

    def _mcl_window_since(self):
        if self.import_window == "all":
            return None
        return fields.Datetime.now() - timedelta(days=self.import_days)

    def _mcl_detect_folders(self, conn):
        """List the server's folders; find Inbox, Sent and Spam (SPECIAL-USE, then names)."""
        folders = imap_sync.list_folders(conn)
        roles = imap_sync.detect_roles(folders)
        role_of = {name: role for role, name in roles.items() if name}
        known = {f.name: f for f in self.folder_ids}
        vals_list = []
        for seq, folder in enumerate(f for f in folders if f.selectable):
            if folder.name in known:
                continue
            role = role_of.get(folder.name, "other")
            vals_list.append(
                {
                    "mailbox_id": self.id,
                    "name": folder.name,
                    "label": folder.label,
                    "role": role,
                    "sync": role in ("inbox", "sent"),
                    "sequence": {"inbox": 0, "sent": 1}.get(role, 10 + seq),
                }
            )
        self.env["mailbox.folder"].create(vals_list)

    def _mcl_pop_folder(self):
        """POP3 has no folders: one Inbox folder holds the import checkpoint and progress."""
        self.ensure_one()
        folder = self.folder_ids.filtered(lambda f: f.role == "inbox")[:1]
        return folder or self.env["mailbox.folder"].create(
            {"mailbox_id": self.id, "name": "INBOX", "label": "INBOX", "role": "inbox"}
        )

    # -- connection, lock, health ---------------------------------------------------------------
    def _mcl_connect(self, min_validity=oauth.REFRESH_MARGIN):
        """A logged-in connection: by password, or for Gmail and Microsoft 365 by XOAUTH2
        with a token valid ``min_validity`` seconds at least (see ``mailbox.oauth``)."""
        self.ensure_one()
        if self.server_type == "pop":
            return pop_sync.connect(
                self.server,
                int(self.port),
                self.connection_security,
                self.user,
                self._mcl_secret("password"),
                timeout=self.connect_timeout or 30,
                verify=self.tls_verify,
            )
        oauth_mailbox = self.server_type in oauth.PROVIDER_TYPES
        return imap_sync.connect(
            self.server,
            int(self.port),
            self.connection_security,
            self.user,
            None if oauth_mailbox else self._mcl_secret("password"),
            timeout=self.connect_timeout or 30,
            verify=self.tls_verify,
            token=self.env["mailbox.oauth"]._authenticator(self, min_validity)
            if oauth_mailbox
            else None,
        )

    def _mcl_disconnect(self, conn):
        (pop_sync if self.server_type == "pop" else imap_sync).close(conn)

    def _mcl_error_message(self, exc):
        return self.env["mailbox.health"]._error_message(self, exc)

    def _mcl_notify_owner(self, subject, body, also=None):
        users = self.owner_id | (also or self.env["res.users"])
        self.env["mail.thread"].sudo().message_notify(
            partner_ids=users.filtered(lambda u: not u.share).partner_id.ids,
            subject=subject,
            body=body,
            model=self._name,
            res_id=self.id,
        )


def _sync_is_ssl(vals):
    """``is_ssl`` (Odoo's field, used by the native path) follows ``connection_security``."""
    if "connection_security" in vals:
        vals["is_ssl"] = vals["connection_security"] == "ssl"
    elif "is_ssl" in vals:
        vals["connection_security"] = "ssl" if vals["is_ssl"] else "none"
