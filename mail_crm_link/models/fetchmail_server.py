import logging
import secrets
import time
from collections import Counter
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..mailflow import addresses, classify, errors, imap_sync, parse, policy, pop_sync

_logger = logging.getLogger(__name__)

# pg_try_advisory_lock(namespace, mailbox id): one sync of a mailbox at a time, across
# workers and servers. "MCL" in ASCII, so that other modules' advisory locks do not collide.
LOCK_NAMESPACE = 0x4D434C
BATCH_SIZE = 100  # mails per FETCH and per commit: bounded memory, few round trips
FAILURES_BEFORE_NOTICE = 3


class FetchmailServer(models.Model):
    """A mailbox: Odoo's incoming mail server, extended with CRM linking.

    Mailboxes with CRM linking off keep Odoo's native fetchmail path, untouched. The others are
    synced here: every message stored once (``mailbox.message``), the server never changed.

    Table of contents of a sync (``_mcl_sync``): lock → connect → per folder: examine, plan,
    search, fetch in batches → store → checkpoint (commit) → record success or failure.
    """

    _inherit = "fetchmail.server"

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
    password = fields.Char(groups="base.group_system")
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
        help="New mail is imported within seconds by the mailbox-listen command "
        "(odoo-bin mailbox-listen -d DATABASE); polling still runs as a safety net.",
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
    mail_server_id = fields.Many2one(
        "ir.mail_server",
        string="Outgoing Server",
        help="The SMTP server that sends mail written from the CRM for this mailbox "
        "(empty: Odoo's default outgoing server).",
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
    # -- linking and create policy (automatic mode) --
    fold_plus = fields.Boolean(
        string="Ignore +tags in Addresses",
        help="Match anna+news@client.com to the contact anna@client.com.",
    )
    skip_mailing_lists = fields.Boolean(
        default=True,
        help="Mail with a List-Id header (newsletters, discussion lists) is stored but never "
        "linked.",
    )
    never_log = fields.Text(
        help="Addresses and domains whose mail is never linked to the CRM (personal contacts, "
        "suppliers' robots). Also see the global list in the CRM settings.",
    )
    always_create = fields.Text(
        string="Always Create From",
        help="Every incoming mail from these addresses creates a record, even when the "
        "address is known (a web form's sender, for instance).",
    )
    deal_link_mode = fields.Selection(
        [
            (policy.DEALS_ALL, "All open deals"),
            (policy.DEALS_RECENT, "The most recent open deal"),
            (policy.DEALS_SINGLE, "Only when exactly one deal is open"),
            (policy.DEALS_NONE, "No deal"),
        ],
        string="Link Mail of a Client To",
        default=policy.DEALS_SINGLE,
        required=True,
        help="Which open deals of the client a mail is linked to. With several open deals "
        "and 'only when exactly one', the mail is flagged 'Choose a deal'.",
    )
    team_id = fields.Many2one("crm.team", string="Sales Team")
    source_id = fields.Many2one(
        "utm.source",
        default=lambda self: self.env.ref(
            "mail_crm_link.utm_source_mailbox", raise_if_not_found=False
        ),
    )
    incoming_unknown_action = fields.Selection(
        [
            (policy.LEAD, "Create a lead"),
            (policy.OPPORTUNITY, "Create an opportunity"),
            (policy.CONTACT, "Create a contact"),
            (policy.COMPANY, "Create a company"),
            (policy.NOTHING, "Nothing"),
        ],
        string="Mail From an Unknown Address",
        default=policy.LEAD,
        required=True,
    )
    incoming_assign = fields.Selection(
        [("fixed", "A fixed user"), ("round_robin", "Round robin in the sales team")],
        string="Assign To",
        default="fixed",
        required=True,
    )
    incoming_user_id = fields.Many2one(
        "res.users", string="Responsible", help="Empty: the mailbox's owner."
    )
    outgoing_unknown_action = fields.Selection(
        [
            (policy.CONTACT, "Create a contact"),
            (policy.LEAD, "Create a lead"),
            (policy.NOTHING, "Nothing"),
        ],
        string="Mail To an Unknown Address",
        default=policy.CONTACT,
        required=True,
    )
    outgoing_assign = fields.Selection(
        [("sender", "The user who sent it"), ("fixed", "A fixed user")],
        string="Assign Outgoing To",
        default="sender",
        required=True,
    )
    outgoing_user_id = fields.Many2one("res.users", string="Responsible (Outgoing)")
    known_action = fields.Selection(
        [
            (policy.OPPORTUNITY, "Create an opportunity"),
            (policy.LEAD, "Create a lead"),
            (policy.NOTHING, "Nothing"),
        ],
        string="New Mail From a Client",
        default=policy.OPPORTUNITY,
        required=True,
    )
    known_only_without_open = fields.Boolean(
        string="Only When No Deal Is Open",
        default=True,
        help="A client with an open opportunity does not get a new one per mail.",
    )
    known_assign = fields.Selection(
        [("salesperson", "The client's salesperson"), ("fixed", "A fixed user")],
        string="Assign Client Deals To",
        default="salesperson",
        required=True,
    )
    known_user_id = fields.Many2one("res.users", string="Responsible (Clients)")
    rr_last_user_id = fields.Many2one("res.users", string="Last Assigned", readonly=True)
    activity_enabled = fields.Boolean(
        string="Email Activities",
        default=True,
        help="Each incoming client mail is a pending Email activity for the responsible.",
    )
    activity_days = fields.Integer(
        string="Due In (Working Days)",
        default=1,
        help="1: by the end of the next working day.",
    )
    strict_visibility = fields.Boolean(
        help="A mail of this mailbox shows on a record only to users who may read every "
        "record it is linked to.",
    )
    private_addresses = fields.Text(
        string="Private Correspondents",
        help="Mail with these addresses or domains stays linked but shows only to the "
        "mailbox's owner and sales managers.",
    )
    server_action_id = fields.Many2one(
        "ir.actions.server",
        string="Then Run",
        domain=[("model_id.model", "=", "mailbox.message")],
        help="A server action run on every stored mail after the create policy "
        "(the mail is the action's record).",
    )
    import_done = fields.Integer(compute="_compute_import_progress")
    import_total = fields.Integer(compute="_compute_import_progress")

    _sql_constraints = [
        (
            "poll_interval_min",
            "CHECK(poll_interval >= 1)",
            "The polling interval is at least one minute.",
        ),
        (
            "connect_timeout_positive",
            "CHECK(connect_timeout > 0)",
            "The timeout must be at least one second.",
        ),
        (
            "import_days_positive",
            "CHECK(import_days >= 0)",
            "The import window cannot be negative.",
        ),
    ]

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
        inbox = self.folder_ids.filtered(lambda f: f.role == "inbox")[:1]
        records = self.env["mailbox.message"]._store_batch(
            self, inbox, [({}, raw, fields.Datetime.now())]
        )
        self._mcl_after_store(records)
        return records[:1].id or False

    @api.depends("folder_ids.import_done", "folder_ids.import_total")
    def _compute_import_progress(self):
        for mailbox in self:
            mailbox.import_done = sum(mailbox.folder_ids.mapped("import_done"))
            mailbox.import_total = sum(mailbox.folder_ids.mapped("import_total"))

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
        self.is_ssl = self.connection_security == "ssl"
        if self.server_type == "imap":
            self.port = 993 if self.is_ssl else 143
        elif self.server_type == "pop":
            self.port = 995 if self.is_ssl else 110

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            _sync_is_ssl(vals)
        return super().create(vals_list)

    def write(self, vals):
        _sync_is_ssl(vals)
        return super().write(vals)

    def _internal_set(self):
        self.ensure_one()
        return addresses.parse_internal(self.internal_domains)

    def _mcl_address(self):
        self.ensure_one()
        return addresses.normalize(self.email_address or self.user or "")

    def _mcl_append_sent(self, raw):
        """Save mail sent from the CRM in the mailbox's Sent folder, as a mail client does,
        so the user sees it in their own mail program. Returns the folder, or raises."""
        self.ensure_one()
        folder = self.folder_ids.filtered(lambda f: f.role == "sent")[:1]
        if self.server_type != "imap" or not folder:
            return folder
        conn = self._mcl_connect()
        try:
            imap_sync.append(conn, folder.name, raw, seen=True)
        finally:
            self._mcl_disconnect(conn)
        return folder

    def _mcl_never_log_set(self):
        self.ensure_one()
        glob = self.env["ir.config_parameter"].sudo().get_param("mail_crm_link.never_log", "")
        return addresses.parse_internal(self.never_log) | addresses.parse_internal(glob)

    def _mcl_kind(self, headers, direction, sender, recipients, folder_role, internal=None):
        """What a mail is, for this mailbox's settings (see ``classify.kind``)."""
        self.ensure_one()
        return classify.kind(
            headers,
            direction,
            sender,
            recipients,
            self._internal_set() if internal is None else internal,
            folder_role,
            self._mcl_never_log_set(),
            self.skip_mailing_lists,
        )

    def _mcl_is_private(self, direction, sender, recipients, internal=None):
        self.ensure_one()
        private = addresses.parse_internal(self.private_addresses)
        if not private:
            return False
        if internal is None:
            internal = self._internal_set()
        found = classify.correspondents(direction, sender, recipients, internal)
        return bool(found) and any(addresses.in_list(a, private) for a in found)

    def _mcl_apply_private(self):
        """Mark the stored mail of the private correspondents private."""
        for mailbox in self:
            messages = self.env["mailbox.message"].search(
                [("mailbox_id", "=", mailbox.id), ("private", "=", False)]
            )
            for message in messages:
                recipients = [
                    a
                    for _n, a in addresses.parse_list(
                        [message.email_to or "", message.email_cc or ""]
                    )
                ]
                if mailbox._mcl_is_private(message.direction, message.sender, recipients):
                    message.private = True

    def _mcl_policy(self):
        self.ensure_one()
        return policy.Policy(
            incoming_unknown=self.incoming_unknown_action,
            outgoing_unknown=self.outgoing_unknown_action,
            incoming_known=self.known_action,
            only_without_open_deal=self.known_only_without_open,
            always_create=addresses.parse_internal(self.always_create),
        )

    def _mcl_responsible(self, message, decision, client):
        """Who is responsible for a record the policy creates (an active internal user)."""
        self.ensure_one()
        if message.direction == classify.OUTGOING:
            if self.outgoing_assign == "fixed":
                user = self.outgoing_user_id
            else:
                user = self._mcl_user_by_address(message.sender)
        elif client:
            if self.known_assign == "fixed":
                user = self.known_user_id
            else:
                user = client._mcl_responsible_user()
        elif self.incoming_assign == "round_robin":
            user = self._mcl_round_robin()
        else:
            user = self.incoming_user_id
        user = user.filtered(lambda u: u.active and not u.share)
        return user or self.owner_id

    def _mcl_user_by_address(self, address):
        partners = self.env["res.partner"]._mcl_find_by_addresses(
            addresses.lookup_forms(address, self.fold_plus)
        )
        users = self.env["res.partner"].union(*partners.values()).user_ids
        return users.filtered(lambda u: u.active and not u.share)[:1]

    def _mcl_round_robin(self):
        """The next active member of the sales team; the owner, with a notice, when nobody
        is left."""
        members = self.team_id.member_ids.filtered(lambda u: u.active and not u.share)
        next_id = policy.round_robin(sorted(members.ids), self.rr_last_user_id.id or None)
        if not next_id:
            self._mcl_notify_owner(
                self.env._("No one to assign new leads to in mailbox %s", self.name),
                self.env._(
                    "Round robin found no active member in sales team %(team)s: new leads "
                    "of mailbox %(mailbox)s are assigned to you.",
                    team=self.team_id.name or "-",
                    mailbox=self.name,
                ),
            )
            return self.owner_id
        user = self.env["res.users"].browse(next_id)
        self.rr_last_user_id = user
        return user

    def _mcl_is_linked(self):
        return self.crm_link_mode != "off" and self.server_type in ("imap", "pop")

    # -- buttons ------------------------------------------------------------------------------
    def button_confirm_login(self):
        """Test the connection; for CRM mailboxes, say clearly what is wrong and find folders."""
        native = self.filtered(lambda m: not m._mcl_is_linked())
        if native:
            super(FetchmailServer, native).button_confirm_login()
        for mailbox in self - native:
            try:
                conn = mailbox._mcl_connect()
            except Exception as exc:  # noqa: BLE001 (any failure is explained to the user)
                raise UserError(mailbox._mcl_error_message(exc)) from None
            try:
                if mailbox.server_type == "imap":
                    mailbox._mcl_detect_folders(conn)
            finally:
                mailbox._mcl_disconnect(conn)
            mailbox.write({"state": "done", "last_error": False, "failure_count": 0})
        return True

    def action_detect_folders(self):
        for mailbox in self.filtered(lambda m: m.server_type == "imap"):
            conn = mailbox._mcl_connect()
            try:
                mailbox._mcl_detect_folders(conn)
            finally:
                mailbox._mcl_disconnect(conn)
        return True

    def action_sync_now(self):
        """Ask for a sync of these mailboxes as soon as possible (by the sync cron, which may
        commit per batch; a button or an automated action must not)."""
        self.write({"next_sync_at": fields.Datetime.now()})
        self.env.ref("mail_crm_link.ir_cron_mailbox_sync")._trigger()
        return True

    def fetch_mail(self, raise_exception=True):
        """Odoo's "Fetch Now": native for mailboxes with linking off, ours for the others."""
        native = self.filtered(lambda m: not m._mcl_is_linked())
        if self - native:
            (self - native).action_sync_now()
        if native:
            return super(FetchmailServer, native).fetch_mail(raise_exception=raise_exception)
        return True

    @api.model
    def _fetch_mails(self):
        """Odoo's fetch cron keeps the native mailboxes only; ours have their own cron."""
        return self.search(
            [
                ("state", "=", "done"),
                ("server_type", "!=", "local"),
                ("crm_link_mode", "=", "off"),
            ]
        ).fetch_mail(raise_exception=False)

    # -- cron -------------------------------------------------------------------------------
    @api.model
    def _cron_sync(self, time_budget=240):
        """Sync every due CRM mailbox; re-trigger itself when the time budget runs out so that
        a long initial import never holds a cron worker for hours."""
        now = fields.Datetime.now()
        due = self.search(
            [
                ("crm_link_mode", "!=", "off"),
                ("state", "=", "done"),
                ("server_type", "in", ("imap", "pop")),
                "|",
                ("next_sync_at", "=", False),
                ("next_sync_at", "<=", now),
            ],
            order="next_sync_at asc nulls first, id",
        )
        deadline = time.monotonic() + time_budget
        for done, mailbox in enumerate(due):
            result = mailbox._mcl_sync(deadline=deadline)
            self.env["ir.cron"]._notify_progress(done=done + 1, remaining=len(due) - done - 1)
            if result.get("partial") or time.monotonic() > deadline:
                self.env.ref("mail_crm_link.ir_cron_mailbox_sync")._trigger()
                break

    # -- the sync -----------------------------------------------------------------------------
    def _mcl_sync(self, deadline=None, batch_size=BATCH_SIZE):
        """Import new mail of this mailbox. Commits after every batch (messages and the folder
        checkpoint together), so a crash at any point resumes without loss or duplicate.

        Returns a dict: ``busy`` (another worker holds the mailbox), ``partial`` (time budget
        spent, more to do), ``error`` (a message for people) and counters.
        """
        self.ensure_one()
        if not self._mcl_try_lock():
            return {"busy": True}
        try:
            return self._mcl_sync_locked(deadline, batch_size)
        finally:
            self._mcl_unlock()  # a session lock outlives transactions: release it ourselves

    def _mcl_sync_locked(self, deadline, batch_size):
        stats = Counter(fetched=0, new=0, failed=0)
        try:
            conn = self._mcl_connect()
            try:
                if self.server_type == "pop":
                    partial = self._mcl_sync_pop(conn, stats, deadline, batch_size)
                else:
                    partial = self._mcl_sync_imap(conn, stats, deadline, batch_size)
            finally:
                self._mcl_disconnect(conn)
        except Exception as exc:  # connection or protocol failure: the mailbox says why
            self.env.cr.rollback()  # back to the last checkpoint: nothing half-stored
            if errors.classify(exc) == errors.PROTOCOL:
                _logger.exception("Mailbox %s (id %s): unexpected failure", self.name, self.id)
            message = self._mcl_record_failure(exc)
            self.env.cr.commit()  # the failure must be visible even if the caller fails next  # pylint: disable=invalid-commit
            return {"error": message, **stats}
        self.env["mailbox.message"]._retry_errors(self)
        self._mcl_record_success()
        self.env.cr.commit()  # end of sync: status and retried messages  # pylint: disable=invalid-commit
        return {"partial": partial, **stats}

    def _mcl_sync_imap(self, conn, stats, deadline, batch_size):
        if not self.folder_ids:
            self._mcl_detect_folders(conn)
        Message = self.env["mailbox.message"]
        for folder in self.folder_ids.filtered(lambda f: f.sync and f.role != "spam"):
            status = imap_sync.examine(conn, folder.name)
            plan = imap_sync.plan_folder(
                folder.uidvalidity,
                folder.last_uid,
                status,
                self._mcl_window_since(),
                folder.import_since,
            )
            if plan.reset:
                folder.write(
                    {
                        "uidvalidity": status.uidvalidity,
                        "last_uid": 0,
                        "import_done": 0,
                        "import_total": 0,
                        "import_since": plan.since,
                    }
                )
            uids = imap_sync.search_uids(conn, plan)
            if plan.reset:
                folder.import_total = len(uids)
            for start in range(0, len(uids), batch_size):
                batch = uids[start : start + batch_size]
                fetched = imap_sync.fetch_batch(conn, batch)
                items = [
                    ({"imap_uid": uid, "uidvalidity": status.uidvalidity}, raw, date)
                    for uid, raw, date in fetched
                ]
                history = folder.import_done < folder.import_total  # initial import
                records = Message._store_batch(self, folder, items)
                self._mcl_count(stats, records, len(fetched))
                folder.write(
                    {"last_uid": batch[-1], "import_done": folder.import_done + len(batch)}
                )
                self._mcl_after_store(records, history=history)
                self.env.cr.commit()  # checkpoint: this batch and the folder's last UID  # pylint: disable=invalid-commit
                if deadline and time.monotonic() > deadline:
                    return True
            # UIDs below UIDNEXT that were not fetched are outside the import window: done
            if status.uidnext and status.uidnext - 1 > folder.last_uid:
                folder.last_uid = status.uidnext - 1
            folder.import_since = False  # the initial import of this folder is complete
            self.env.cr.commit()  # checkpoint: the folder is complete  # pylint: disable=invalid-commit
        return False

    def _mcl_sync_pop(self, conn, stats, deadline, batch_size):
        Message = self.env["mailbox.message"]
        self.env.cr.execute(
            "SELECT pop_uidl FROM mailbox_message WHERE mailbox_id = %s AND pop_uidl IS NOT NULL",
            [self.id],
        )
        stored = {row[0] for row in self.env.cr.fetchall()}
        to_fetch, to_delete = pop_sync.plan(pop_sync.list_uidls(conn), stored, self.pop_delete)
        for num in to_delete:  # stored by an earlier sync that stopped before deleting
            conn.dele(num)
        for start in range(0, len(to_fetch), batch_size):
            batch = to_fetch[start : start + batch_size]
            items = [
                ({"pop_uidl": uidl}, pop_sync.retrieve(conn, num), None) for num, uidl in batch
            ]
            records = Message._store_batch(self, False, items)
            self._mcl_count(stats, records, len(batch))
            self._mcl_after_store(records)
            self.env.cr.commit()  # checkpoint: stored before anything is deleted  # pylint: disable=invalid-commit
            if self.pop_delete:
                for num, _uidl in batch:
                    conn.dele(num)  # takes effect at QUIT, after our commit
            if deadline and time.monotonic() > deadline:
                return True
        return False

    def _mcl_after_store(self, records, history=False):
        """Every stored batch is linked to the CRM (automatic mode) before its checkpoint.
        Linking never costs the mail: if it fails, the batch stays stored, unlinked, with
        the reason, and "Re-link" tries again. ``history``: the batch belongs to the initial
        import (linked and shown, without notifications or Email activities)."""
        try:
            with self.env.cr.savepoint():
                records._mcl_link(history=history)
        except Exception as exc:
            _logger.exception("Mailbox %s (id %s): linking failed", self.name, self.id)
            records.write({"link_note": self.env._("Linking failed: %s", exc)})
        return records

    def action_relink(self):
        """Run matching again on all the mail of these mailboxes (see
        ``mailbox.message.action_relink``)."""
        messages = self.env["mailbox.message"].search(
            [("mailbox_id", "in", self.ids), ("state", "!=", "error")]
        )
        return messages.action_relink()

    @staticmethod
    def _mcl_count(stats, records, fetched):
        stats["fetched"] += fetched
        stats["new"] += len(records)
        stats["failed"] += len(records.filtered(lambda m: m.state == "error"))

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

    # -- connection, lock, health ---------------------------------------------------------------
    def _mcl_connect(self):
        self.ensure_one()
        module = pop_sync if self.server_type == "pop" else imap_sync
        return module.connect(
            self.server,
            int(self.port),
            self.connection_security,
            self.user,
            self.sudo().password,
            timeout=self.connect_timeout or 30,
            verify=self.tls_verify,
        )

    def _mcl_disconnect(self, conn):
        (pop_sync if self.server_type == "pop" else imap_sync).close(conn)

    def _mcl_try_lock(self):
        """A session-level advisory lock: it survives the per-batch commits (a row lock would
        not) and PostgreSQL drops it if the worker dies."""
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, self.id])
        return self.env.cr.fetchone()[0]

    def _mcl_unlock(self):
        self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, self.id])

    def _mcl_error_message(self, exc):
        """A translated sentence that says what is wrong and how to fix it. Never contains
        the password."""
        kind = errors.classify(exc)
        detail = str(exc)
        password = self.sudo().password
        if password:
            detail = detail.replace(password, "********")
        messages = {
            errors.AUTH: self.env._(
                "The server refused the login or password of mailbox %(name)s. "
                "If the password was changed in the mail account, enter the new "
                "one here. Server said: %(detail)s"
            ),
            errors.TLS_CERT: self.env._(
                "The TLS certificate of %(server)s could not be verified. Check "
                "the server name, or turn off certificate verification for a "
                "self-signed certificate you trust. (%(detail)s)"
            ),
            errors.TLS: self.env._(
                "The secure connection to %(server)s failed: check the Security "
                "setting (SSL/TLS or STARTTLS) and the port. (%(detail)s)"
            ),
            errors.TIMEOUT: self.env._(
                "%(server)s did not answer in time: the server may be down or "
                "a firewall may block port %(port)s. (%(detail)s)"
            ),
            errors.UNREACHABLE: self.env._(
                "%(server)s cannot be reached on port %(port)s: check the "
                "server name and port. (%(detail)s)"
            ),
            errors.FOLDER: self.env._(
                "A folder to synchronize no longer exists on the server: "
                "%(detail)s. Detect the folders again on the mailbox."
            ),
            errors.PROTOCOL: self.env._("The mail server answered unexpectedly: %(detail)s"),
        }
        return messages[kind] % {
            "name": self.name,
            "server": self.server,
            "port": self.port,
            "detail": detail,
        }

    def _mcl_record_failure(self, exc):
        message = self._mcl_error_message(exc)
        _logger.warning("Mailbox %s (id %s) failed to sync: %s", self.name, self.id, message)
        self.write(
            {
                "last_error": message,
                "failure_count": self.failure_count + 1,
                "next_sync_at": self._mcl_next_sync(failed=True),
            }
        )
        if self.failure_count == FAILURES_BEFORE_NOTICE:
            self._mcl_notify_failure(message)
        return message

    def _mcl_record_success(self):
        self.write(
            {
                "last_sync_at": fields.Datetime.now(),
                "last_error": False,
                "failure_count": 0,
                "next_sync_at": self._mcl_next_sync(),
            }
        )

    def _mcl_next_sync(self, failed=False):
        minutes = self.poll_interval
        if failed:  # back off: 1, 2, 4… polling intervals, at most a day
            minutes = min(self.poll_interval * 2 ** min(self.failure_count, 10), 24 * 60)
        return fields.Datetime.now() + timedelta(minutes=minutes)

    def _mcl_notify_failure(self, message):
        """Tell the owner and the administrators, in Odoo, what is wrong."""
        admins = self.env.ref("base.group_system").sudo().users
        self._mcl_notify_owner(
            self.env._("Mailbox %s cannot be synchronized", self.name),
            self.env._(
                "%(count)s attempts in a row failed. %(message)s Mail is imported again "
                "as soon as this is fixed.",
                count=self.failure_count,
                message=message,
            ),
            also=admins,
        )

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
