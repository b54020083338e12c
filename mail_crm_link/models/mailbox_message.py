import base64
import logging
from datetime import timezone

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError

from ..mailflow import addresses, classify, parse, policy
from .fields_extra import BigInteger

_logger = logging.getLogger(__name__)

MAX_RETRIES = 3


class MailboxMessage(models.Model):
    """One message of a mailbox, stored once per mailbox whatever the folder or re-syncs."""

    _name = "mailbox.message"
    _description = "Mailbox Message"
    _order = "date desc, id desc"
    _rec_name = "subject"

    mailbox_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    folder_id = fields.Many2one("mailbox.folder", ondelete="set null")
    imap_uid = BigInteger(string="UID", readonly=True)
    uidvalidity = BigInteger(string="UIDVALIDITY", readonly=True)
    pop_uidl = fields.Char(string="POP3 UIDL", readonly=True, index="btree_not_null")
    dedup_key = fields.Char(required=True, readonly=True)
    message_id = fields.Char(string="Message-ID", readonly=True, index="btree_not_null")
    content_hash = fields.Char(readonly=True)
    in_reply_to = fields.Char(string="In-Reply-To", readonly=True)
    references = fields.Text(readonly=True)
    direction = fields.Selection(
        [(classify.INCOMING, "Incoming"), (classify.OUTGOING, "Outgoing")], readonly=True
    )
    date = fields.Datetime(readonly=True, index=True)
    subject = fields.Char(readonly=True)
    email_from = fields.Char(string="From", readonly=True)
    sender = fields.Char(string="Sender Address", readonly=True, index="btree_not_null")
    email_to = fields.Char(string="To", readonly=True)
    email_cc = fields.Char(string="Cc", readonly=True)
    reply_to = fields.Char(string="Reply-To", readonly=True)
    body_html = fields.Html(string="Body", readonly=True, sanitize=False)  # sanitized on store
    body_text = fields.Text(string="Text Body", readonly=True)
    size = fields.Integer(readonly=True)
    attachment_ids = fields.One2many(
        "ir.attachment",
        "res_id",
        string="Attachments",
        domain=[("res_model", "=", "mailbox.message")],
        readonly=True,
    )
    header_values = fields.Json(readonly=True, help="Headers the classification looks at.")
    state = fields.Selection(
        [
            ("new", "New"),
            ("linked", "Linked"),
            ("ignored", "Not CRM Material"),
            ("error", "Error"),
        ],
        default="new",
        required=True,
        index=True,
        readonly=True,
    )
    mail_kind = fields.Selection(
        [
            (classify.CLIENT, "Client Mail"),
            (classify.INTERNAL, "Internal"),
            (classify.AUTO_REPLY, "Automatic Reply"),
            (classify.BOUNCE, "Delivery Report"),
            (classify.MAILING_LIST, "Mailing List"),
            (classify.SPAM, "Spam"),
            (classify.EXCLUDED, "Never Logged"),
        ],
        string="Kind",
        readonly=True,
        index=True,
    )
    link_ids = fields.One2many("mailbox.message.link", "message_id", string="CRM Links")
    conversation = fields.Char(
        compute="_compute_conversation",
        store=True,
        index="btree_not_null",
        help="The first Message-ID of the thread: mails of one conversation share it.",
    )
    private = fields.Boolean(
        readonly=True,
        help="Shown only to the mailbox's owner and sales managers, on the mailbox and on "
        "the linked records.",
    )
    link_count = fields.Integer(compute="_compute_link_count", string="Links")
    needs_deal_choice = fields.Boolean(
        string="Choose a Deal",
        readonly=True,
        help="The client has several open deals: choose the one this mail belongs to.",
    )
    link_note = fields.Char(readonly=True)
    activity_id = fields.Many2one("mail.activity", string="Email Activity", ondelete="set null")
    processed = fields.Boolean(readonly=True, help="The responsible marked this mail processed.")
    pending = fields.Boolean(compute="_compute_pending", search="_search_pending")
    open_token = fields.Char(
        readonly=True, copy=False, index="btree_not_null", groups="base.group_system"
    )
    open_first = fields.Datetime(string="First Opened", readonly=True)
    open_last = fields.Datetime(string="Last Opened", readonly=True)
    open_count = fields.Integer(string="Opens", readonly=True)
    error_reason = fields.Text(readonly=True)
    parse_warnings = fields.Text(readonly=True)
    retry_count = fields.Integer(readonly=True)
    raw_source = fields.Binary(
        attachment=True,
        readonly=True,
        help="The message as the server holds it, kept for "
        "messages in error so that nothing is lost.",
    )

    _sql_constraints = [
        (
            "mailbox_dedup_uniq",
            "unique(mailbox_id, dedup_key)",
            "A message is stored once per mailbox.",
        ),
    ]

    @api.depends("link_ids")
    def _compute_link_count(self):
        for message in self:
            message.link_count = len(message.link_ids)

    @api.depends("message_id", "references", "in_reply_to")
    def _compute_conversation(self):
        for message in self:
            refs = (message.references or "").split()
            message.conversation = (
                refs[0] if refs else (message.in_reply_to or message.message_id or False)
            )

    @api.depends("activity_id", "processed")
    def _compute_pending(self):
        for message in self:
            message.pending = bool(message.activity_id) and not message.processed

    def _search_pending(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Unsupported search on pending mail."))
        pending = [("activity_id", "!=", False), ("processed", "=", False)]
        return pending if (operator == "=") == value else ["!", "&", *pending]

    # -- storing ------------------------------------------------------------------------------
    @api.model
    def _store_batch(self, mailbox, folder, items):
        """Store ``items`` = [(ref, raw bytes, internal date)] fetched from ``folder``; ``ref``
        is {'imap_uid': n, 'uidvalidity': v} or {'pop_uidl': s}. Returns the new records.

        Messages already stored in the mailbox (same Message-ID, else same content) are
        skipped, so re-syncs, UIDVALIDITY changes and copies in several folders never
        duplicate. A message that cannot be parsed is stored in error with its raw source.
        """
        internal = mailbox._internal_set()
        parsed = [(ref, raw, parse.parse(raw, fallback_date=date)) for ref, raw, date in items]
        stored = {
            m.dedup_key: m
            for m in self.search(
                [
                    ("mailbox_id", "=", mailbox.id),
                    ("dedup_key", "in", [p.dedup_key for _r, _raw, p in parsed]),
                ]
            )
        }
        existing = set(stored)
        vals_list, attachments, raws = [], [], []
        for ref, raw, mail in parsed:
            if mail.dedup_key in existing:
                duplicate = stored.get(mail.dedup_key)
                if duplicate and ref.get("pop_uidl") and not duplicate.pop_uidl:
                    duplicate.pop_uidl = ref["pop_uidl"]  # so POP3 does not fetch it again
                continue
            existing.add(mail.dedup_key)
            vals = self._values_from_parsed(mailbox, folder, mail, raw, internal)
            vals.update(ref)
            vals_list.append(vals)
            raws.append(raw)
            attachments.append(mail.attachments if not mail.error else [])
        try:
            with self.env.cr.savepoint():
                records = self.create(vals_list)
        except Exception:  # one bad message must not block the others: store them one by one
            _logger.exception("Mailbox %s: batch store failed, storing one by one", mailbox.id)
            records = self._store_one_by_one(vals_list, raws)
        self._store_attachments(records, attachments)
        return records

    @api.model
    def _store_one_by_one(self, vals_list, raws):
        records = self.browse()
        for vals, raw in zip(vals_list, raws, strict=True):
            try:
                with self.env.cr.savepoint():
                    records |= self.create(vals)
            except Exception as exc:  # noqa: BLE001 (kept in error, never lost)
                keep = {
                    k: vals[k]
                    for k in (
                        "mailbox_id",
                        "folder_id",
                        "dedup_key",
                        "size",
                        "imap_uid",
                        "uidvalidity",
                        "pop_uidl",
                    )
                    if k in vals
                }
                keep.update(
                    state="error",
                    subject=str(vals.get("subject") or "")[:200],
                    error_reason=self.env._("Could not be stored: %s", exc),
                    raw_source=base64.b64encode(raw),
                )
                records |= self.create(keep)
        return records

    @api.model
    def _values_from_parsed(self, mailbox, folder, mail, raw, internal):
        role = folder.role if folder else "inbox"
        recipients = [a for _n, a in mail.to + mail.cc]
        vals = {
            "mailbox_id": mailbox.id,
            "folder_id": folder.id if folder else False,
            "dedup_key": mail.dedup_key,
            "message_id": mail.message_id or False,
            "content_hash": mail.content_hash,
            "in_reply_to": mail.in_reply_to or False,
            "references": " ".join(r for r in mail.references if r) or False,
            "direction": classify.direction(mail.sender, role, internal),
            "date": mail.date.astimezone(timezone.utc).replace(tzinfo=None) if mail.date else False,
            "subject": mail.subject,
            "email_from": _format_addresses([(mail.sender_name, mail.sender)]),
            "sender": mail.sender or False,
            "email_to": _format_addresses(mail.to),
            "email_cc": _format_addresses(mail.cc),
            "reply_to": _format_addresses(mail.reply_to),
            "body_html": tools.html_sanitize(mail.html)
            if mail.html
            else (tools.plaintext2html(mail.text) if mail.text else False),
            "body_text": mail.text or False,
            "size": mail.size,
            "header_values": mail.headers,
            "parse_warnings": "\n".join(mail.warnings) or False,
        }
        if mail.error:
            vals.update(state="error", error_reason=mail.error, raw_source=base64.b64encode(raw))
            return vals
        vals["mail_kind"] = mailbox._mcl_kind(
            mail.headers, vals["direction"], mail.sender, recipients, role, internal
        )
        vals["private"] = mailbox._mcl_is_private(
            vals["direction"], mail.sender, recipients, internal
        )
        if vals["mail_kind"] not in (classify.CLIENT, classify.AUTO_REPLY):
            vals["state"] = "ignored"
        return vals

    @api.model
    def _store_attachments(self, records, attachments):
        vals_list = [
            {
                "name": att.name,
                "raw": att.content,
                "mimetype": att.mimetype,
                "res_model": self._name,
                "res_id": record.id,
                "description": att.content_id or False,
            }
            for record, atts in zip(records, attachments, strict=True)
            for att in atts
        ]
        if vals_list:
            self.env["ir.attachment"].sudo().create(vals_list)

    # -- linking ------------------------------------------------------------------------------
    def _mcl_link(self, allow_create=True, run_hooks=True, history=False):
        """Link these stored mails to the CRM (mailboxes in automatic mode); ``history``: mail
        of an initial import (see ``mailbox.message.link._link_messages``)."""
        return self.env["mailbox.message.link"]._link_messages(
            self, allow_create=allow_create, run_hooks=run_hooks, history=history
        )

    def action_relink(self):
        """Run matching again on these mails (after a contact's address was added, say):
        only new links are added, with their chatter entries and activities; nothing is
        created. Allowed to whoever may read the mails."""
        self.check_access("read")
        messages = self.sudo().filtered(lambda m: m.state != "error")
        for message in messages:
            message.mail_kind = message._mcl_classify()
        messages._mcl_link(allow_create=False, run_hooks=False)
        return True

    # -- by hand (the web client) -------------------------------------------------------------
    def action_link_record(self, model, res_id):
        """Link these mails to one contact, company, lead or deal (see ``_add_links``)."""
        record = self.env[model].browse(int(res_id)).exists()
        self.env["mailbox.message.link"]._add_links(self, record)
        return True

    def action_remove_from_record(self):
        """ "Remove from card": the mail leaves the record named by the context (the card the
        list was opened from), not the rest of its thread."""
        model = self.env.context.get("mcl_res_model")
        res_id = self.env.context.get("mcl_res_id")
        field = {"crm.lead": "lead_id", "res.partner": "partner_id"}.get(model)
        if not field or not res_id:
            return False
        return self.link_ids.filtered(lambda link: link[field].id == res_id).action_remove()

    def action_create_lead(self):
        return self._mcl_create_record(policy.LEAD)

    def action_create_opportunity(self):
        return self._mcl_create_record(policy.OPPORTUNITY)

    def action_create_contact(self):
        return self._mcl_create_record(policy.CONTACT)

    def action_create_company(self):
        return self._mcl_create_record(policy.COMPANY)

    def _mcl_create_record(self, kind):
        """Create a lead, deal, contact or company prefilled from this mail and link it.
        The record is created as the current user: their create right is checked by Odoo."""
        self.ensure_one()
        self.check_access("read")
        if kind not in (policy.LEAD, policy.OPPORTUNITY, policy.CONTACT, policy.COMPANY):
            raise AccessError(self.env._("Unknown kind of record: %s", kind))
        mailbox = self.sudo().mailbox_id
        name, address = self._mcl_main_correspondent()
        if kind in (policy.LEAD, policy.OPPORTUNITY):
            record = self.env["crm.lead"].create(
                {
                    "name": policy.clean_subject(self.subject)
                    or self.env._("Email from %s", name or address),
                    "type": kind,
                    "email_from": address or False,
                    "contact_name": name or False,
                    "user_id": self.env.uid,
                    "team_id": mailbox.team_id.id or False,
                    "source_id": mailbox.source_id.id or False,
                    "medium_id": self.env.ref("utm.utm_medium_email").id,
                }
            )
        else:
            record = self.env["res.partner"].create(policy.partner_values(kind, name, address))
        self.env["mailbox.message.link"]._add_links(self, record)
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    def _mcl_main_correspondent(self):
        """``(name, address)`` of the client side: the sender of incoming mail, the first
        external recipient of sent mail."""
        self.ensure_one()
        found = classify.client_side(
            self.direction,
            self.sender,
            self.email_from,
            self.email_to,
            self.email_cc,
            self.mailbox_id.sudo()._internal_set(),
        )
        if found:
            return found[0]
        sender = addresses.parse_list([self.email_from or ""])
        return sender[0] if sender else ("", self.sender or "")

    def _mcl_reply_values(self):
        """To and subject of an answer to this mail."""
        self.ensure_one()
        if self.direction == classify.INCOMING:
            to = self.reply_to or self.email_from or ""
        else:
            to = self.email_to or ""
        subject = self.subject or ""
        if not policy.REPLY_PREFIX_RE.match(subject):
            subject = f"Re: {subject}"
        return {"email_to": to, "subject": subject, "parent_id": self.id}

    def action_reply(self):
        """Answer this mail from the CRM (through the mailbox's outgoing server)."""
        self.ensure_one()
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reply"),
            "res_model": "mailbox.compose",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_parent_id": self.id,
                "default_res_model": self.env.context.get("mcl_res_model"),
                "default_res_id": self.env.context.get("mcl_res_id"),
            },
        }

    def action_toggle_private(self):
        """The mailbox's owner (or a sales manager) hides a mail from everybody else; it stays
        linked."""
        self._mcl_check_owner()
        for message in self.sudo():
            message.private = not message.private
        return True

    def action_private_correspondent(self):
        """Every mail with this correspondent, past and future, is private."""
        self._mcl_check_owner()
        for message in self.sudo():
            _name, address = message._mcl_main_correspondent()
            if not address:
                continue
            mailbox = message.mailbox_id
            if not addresses.in_list(address, addresses.parse_internal(mailbox.private_addresses)):
                mailbox.private_addresses = ", ".join(
                    filter(None, [mailbox.private_addresses, address])
                )
            mailbox._mcl_apply_private()
        return True

    def _mcl_check_owner(self):
        self.check_access("read")
        if self.env.user.has_group("sales_team.group_sale_manager") or self.env.su:
            return
        if any(m.sudo().mailbox_id.owner_id != self.env.user for m in self):
            raise AccessError(
                self.env._("Only the owner of the mailbox can make its mail private.")
            )

    def _mcl_classify(self):
        self.ensure_one()
        recipients = [
            a for _n, a in addresses.parse_list([self.email_to or "", self.email_cc or ""])
        ]
        return self.mailbox_id._mcl_kind(
            self.header_values or {},
            self.direction,
            self.sender,
            recipients,
            self.folder_id.role if self.folder_id else "inbox",
        )

    def _mcl_author(self):
        """The partner who wrote the mail, when the CRM knows the address (a colleague's
        partner first, for sent mail)."""
        self.ensure_one()
        found = self.env["res.partner"]._mcl_find_by_addresses(
            addresses.lookup_forms(self.sender, self.mailbox_id.fold_plus)
        )
        partners = self.env["res.partner"].union(*found.values())
        return (
            partners.filtered(lambda p: p.user_ids)[:1]
            or partners.filtered(lambda p: not p.is_company)[:1]
            or partners[:1]
        )

    @api.model
    def _mcl_schedule_activities(self, messages):
        """An incoming client mail puts one Email activity on its main record (deal, else
        contact, else company) for that record's responsible; pending until processed."""
        today = fields.Date.context_today(self)
        activity_type = self.env.ref("mail.mail_activity_data_email", raise_if_not_found=False)
        for message in messages:
            mailbox = message.mailbox_id
            if (
                not activity_type
                or not mailbox.activity_enabled
                or message.direction != classify.INCOMING
                or message.mail_kind != classify.CLIENT
                or message.activity_id
                or message.processed
            ):
                continue
            record = message._mcl_main_record()
            if not record:
                continue
            summary = message.subject or self.env._("Email")
            if message.needs_deal_choice:
                summary = self.env._("Choose a deal: %s", summary)
            message.activity_id = record.activity_schedule(
                activity_type_id=activity_type.id,
                date_deadline=policy.next_working_day(today, mailbox.activity_days),
                summary=summary[:200],
                note=message._mcl_activity_note(),
                user_id=(record._mcl_responsible_user() or mailbox.owner_id).id,
            )

    def _mcl_main_record(self):
        links = self.link_ids
        leads = links.lead_id.sorted(lambda lead: (lead.type != "opportunity", -lead.id))
        persons = links.partner_id.filtered(lambda p: not p.is_company)
        return leads[:1] or persons[:1] or links.partner_id[:1]

    def _mcl_activity_note(self):
        return self.env._(
            "Incoming email from %(sender)s in mailbox %(mailbox)s.",
            sender=self.email_from or "?",
            mailbox=self.mailbox_id.name,
        )

    def action_mark_processed(self):
        """The responsible handled the mail: its Email activity is done. Marking it done is
        checked by Odoo's activity rights (the assigned user, or who may edit the record)."""
        self.check_access("read")
        self.activity_id.action_feedback(feedback=self.env._("Mail processed."))
        return self.sudo().write({"processed": True})

    # -- errors -------------------------------------------------------------------------------
    def action_retry(self):
        """Parse the kept raw source again (after a fix), at most MAX_RETRIES times."""
        for message in self.filtered(lambda m: m.state == "error" and m.raw_source):
            raw = base64.b64decode(message.raw_source)
            mail = parse.parse(raw)
            internal = message.mailbox_id._internal_set()
            vals = self._values_from_parsed(
                message.mailbox_id, message.folder_id, mail, raw, internal
            )
            vals.pop("dedup_key")
            if mail.error:
                message.write({"retry_count": message.retry_count + 1, "error_reason": mail.error})
                continue
            vals.update(
                state=vals.get("state", "new"),
                error_reason=False,
                raw_source=False,
                retry_count=message.retry_count + 1,
            )
            message.write(vals)
            self._store_attachments(message, [mail.attachments])
        return True

    @api.model
    def _retry_errors(self, mailbox):
        return self.search(
            [
                ("mailbox_id", "=", mailbox.id),
                ("state", "=", "error"),
                ("retry_count", "<", MAX_RETRIES),
            ]
        ).action_retry()


def _format_addresses(pairs):
    """[(name, address)] → 'Name <address>, …' with names readable (not RFC 2047 encoded)."""
    return (
        ", ".join(tools.formataddr((n, a), charset="utf-8") if n else a for n, a in pairs if a)
        or False
    )
