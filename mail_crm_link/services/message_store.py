"""Step "store" of the pipeline: raw bytes → stored ``mailbox.message`` rows.

Works inside the transaction it is given (never commits). One bad mail never fails its batch:
each mail is parsed and turned into values on its own, the batch is inserted in a savepoint,
then one by one, and a mail that still cannot be inserted is kept as a bare row in error with
its raw source. Nothing fetched is ever dropped, except exact duplicates of stored mail.
"""

import base64
import logging
import os
import sys
from datetime import timezone

from markupsafe import Markup

from odoo import api, models, tools

from ..mailflow import classify, explain, inline, parse, parse_ahead, threads

_logger = logging.getLogger(__name__)

MAX_RETRIES = 3
# a sync that fetches at least this many mails parses them in a helper process (both cores
# work: it parses the next batch while this one stores the previous); a smaller one parses here
PARSE_AHEAD_MIN = 200
# columns a bare error row keeps (besides its state, reason and raw source)
_ERROR_ROW_KEYS = (
    "mailbox_id",
    "folder_id",
    "dedup_key",
    "message_id",
    "size",
    "date",
    "imap_uid",
    "uidvalidity",
    "pop_uidl",
    "history",
)


def clean(value):
    """A value PostgreSQL accepts in a text column: NUL removed (it refuses it) from str,
    and from the str inside lists and dicts (JSON columns)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


# The policy of ``mail.message.body`` (mail/models/mail_message.py): styles too, so an outside
# sender's ``position:fixed`` block cannot cover the screen of whoever opens the card; the
# chatter entries are copies of the stored body (issue 23, finding 5).
SANITIZE_OPTIONS = {"sanitize_style": True}


class MailboxMessageStore(models.AbstractModel):
    _name = "mailbox.message.store"
    _description = "Mailbox Pipeline: Store Mail"

    @api.model
    def _parser(self, expected):
        """What parses the mail of a sync that will fetch ``expected`` mails: a helper process
        (``mailflow.parse_ahead``) for a large one, nothing ahead for a small one. Give what
        it returns to ``store_batch`` as ``parsed``. Off with ``mail_crm_link_parse_ahead =
        False`` in the server configuration (``_parse`` overrides then apply to every mail)."""
        setting = str(tools.config.get("mail_crm_link_parse_ahead", True)).strip().lower()
        if expected < PARSE_AHEAD_MIN or setting in ("0", "false", "no", "off"):
            return parse_ahead.InProcess()
        return parse_ahead.ParseAhead(sanitizer=self._sanitizer_spec())

    @api.model
    def _sanitizer_spec(self):
        """The HTML sanitizer the parse helper applies: Odoo's, imported from where this
        Odoo is (the store's ``_sanitize`` then has nothing left to do)."""
        # Odoo 19 patches lxml in odoo.init (18 in ``import odoo``): the helper does the same
        preload = "odoo.init" if "odoo.init" in sys.modules else ""
        options = [f"{key}={value}" for key, value in SANITIZE_OPTIONS.items()]
        return ("odoo.tools.mail", "html_sanitize", odoo_root(), preload, *options)

    @api.model
    def _sanitize(self, mail):
        """The stored HTML body: sanitized once, here or by the parse helper."""
        if mail.html_clean is not None:
            return Markup(mail.html_clean)
        return tools.html_sanitize(mail.html, **SANITIZE_OPTIONS)

    @api.model
    def _store_batch(self, mailbox, folder, items, history=False, parsed=None):
        """Store ``items`` = [(ref, raw bytes, internal date)] fetched from ``folder``; ``ref``
        is {'imap_uid': n, 'uidvalidity': v} or {'pop_uidl': s}. Returns the new records.

        Mail already stored in the mailbox (same Message-ID, else same content) is skipped,
        so re-syncs, UIDVALIDITY changes and copies in several folders never duplicate.
        ``history``: the mail belongs to an initial import (see ``mailbox.message.history``).
        ``parsed``: [ParsedMail | None] of ``items`` parsed ahead (see ``parser``); a mail
        without one is parsed here.
        """
        Message = self.env["mailbox.message"]
        internal = mailbox._internal_set()
        never_log = mailbox._mcl_never_log_set()  # read once per batch, not per mail
        ahead = parsed or [None] * len(items)
        parsed = [
            (ref, raw, mail or self._parse(raw, date))
            for (ref, raw, date), mail in zip(items, ahead, strict=True)
        ]
        keys = [mail.dedup_key for _r, _raw, mail in parsed]
        stored = {m.dedup_key: m for m in Message.search(self._dedup_domain(mailbox, keys))}
        seen = set(stored)
        rows = []  # (values, raw, attachments)
        for ref, raw, mail in parsed:
            if mail.dedup_key in seen:
                duplicate = stored.get(mail.dedup_key)
                if duplicate and ref.get("pop_uidl") and not duplicate.pop_uidl:
                    duplicate.pop_uidl = ref["pop_uidl"]  # so POP3 does not fetch it again
                continue
            seen.add(mail.dedup_key)
            vals, attachments = self._values_or_error(
                mailbox, folder, mail, raw, internal, never_log=never_log
            )
            vals.update(ref, history=history)
            rows.append((vals, raw, attachments))
        records = self._insert(rows)
        return records

    # -- steps (each one overridable) ------------------------------------------------------
    @api.model
    def _dedup_domain(self, mailbox, keys):
        return [("mailbox_id", "=", mailbox.id), ("dedup_key", "in", keys)]

    @api.model
    def _parse(self, raw, date):
        """``parse.parse`` is total; should it still fail, the mail is kept in error."""
        try:
            return parse.parse(raw, fallback_date=date)
        except Exception as exc:
            _logger.exception("mail_crm_link: internal error while parsing a mail")
            digest = parse.content_hash(raw)
            mail = parse.ParsedMail(
                dedup_key=parse.dedup_key("", digest), content_hash=digest, size=len(raw)
            )
            mail.error = self.env._(
                "Internal error of mail_crm_link while reading this mail (see the server log): %s",
                exc,
            )
            return mail

    @api.model
    def _values_or_error(self, mailbox, folder, mail, raw, internal, never_log=None):
        try:
            vals = self._values_from_parsed(
                mailbox, folder, mail, raw, internal, never_log=never_log
            )
        except Exception as exc:
            _logger.exception("Mailbox %s: internal error while reading a mail", mailbox.id)
            vals = {
                "mailbox_id": mailbox.id,
                "folder_id": folder.id if folder else False,
                "dedup_key": mail.dedup_key,
                "size": len(raw),
                "subject": mail.subject,
                "state": "error",
                "error_reason": self.env._(
                    "Internal error of mail_crm_link while reading this mail (see the "
                    "server log): %s",
                    exc,
                ),
                "raw_source": base64.b64encode(raw),
            }
            return vals, []
        return vals, ([] if mail.error else mail.attachments)

    @api.model
    def _values_from_parsed(self, mailbox, folder, mail, raw, internal, never_log=None):
        role = folder.role if folder else "inbox"
        recipients = [a for _n, a in mail.to + mail.cc]
        direction_why = classify.direction_why(mail.sender, role, internal)
        vals = {
            "mailbox_id": mailbox.id,
            "folder_id": folder.id if folder else False,
            "dedup_key": mail.dedup_key,
            "message_id": mail.message_id or False,
            "content_hash": mail.content_hash,
            "in_reply_to": mail.in_reply_to or False,
            "references": " ".join(r for r in mail.references if r) or False,
            "direction": direction_why[0],
            "date": mail.date.astimezone(timezone.utc).replace(tzinfo=None) if mail.date else False,
            "subject": mail.subject,
            "email_from": format_addresses([(mail.sender_name, mail.sender)]),
            "sender": mail.sender or False,
            "email_to": format_addresses(mail.to),
            "email_cc": format_addresses(mail.cc),
            "reply_to": format_addresses(mail.reply_to),
            "body_html": self._sanitize(mail)
            if mail.html
            else (tools.plaintext2html(mail.text) if mail.text else False),
            "body_text": mail.text or False,
            "size": mail.size,
            "header_values": mail.headers,
            "parse_warnings": "\n".join(mail.warnings) or False,
            # broken structure, text or files read: stored and linked as any mail, marked
            "damaged": bool(getattr(mail, "damaged", False)),
        }
        # the stored compute's value, given at once: no second UPDATE of every new row
        vals["conversation"] = threads.conversation(
            vals["references"], vals["in_reply_to"], vals["message_id"]
        )
        if mail.error:
            vals.update(state="error", error_reason=mail.error, raw_source=base64.b64encode(raw))
            return clean(vals)
        if getattr(mail, "degraded", False):  # replaced or damaged: keep the original
            vals["raw_source"] = base64.b64encode(raw)
        kind_why = mailbox._mcl_kind_why(
            mail.headers, vals["direction"], mail.sender, recipients, role, internal, never_log
        )
        vals["mail_kind"] = kind_why[0]
        vals["private"] = mailbox._mcl_is_private(
            vals["direction"], mail.sender, recipients, internal
        )
        if vals["mail_kind"] not in (classify.CLIENT, classify.AUTO_REPLY):
            vals["state"] = "ignored"
        vals = clean(vals)
        vals["route"] = explain.stored(  # clean already, and not walked by ``clean``
            folder.name if folder else False,
            role,
            direction_why,
            kind_why,
            vals["private"],
        )
        return vals

    @api.model
    def _insert(self, rows):
        """Insert the batch at once; if the database refuses it, one by one; a mail that is
        still refused becomes a bare row in error with its raw source."""
        Message = self.env["mailbox.message"]
        if not rows:
            return Message
        try:
            with self.env.cr.savepoint():
                records = Message.create([vals for vals, _raw, _atts in rows])
                self._store_attachments(records, [atts for _v, _raw, atts in rows])
            return records
        except Exception:
            _logger.warning("batch insert refused, storing one by one", exc_info=True)
        records = Message
        for vals, raw, atts in rows:
            records |= self._insert_one(vals, raw, atts)
        return records

    @api.model
    def _insert_one(self, vals, raw, attachments):
        Message = self.env["mailbox.message"]
        try:
            with self.env.cr.savepoint():
                record = Message.create(vals)
                self._store_attachments(record, [attachments])
            return record
        except Exception as exc:  # noqa: BLE001 (kept in error, never lost)
            reason = self.env._("Could not be stored: %s", exc)
        keep = {k: vals[k] for k in _ERROR_ROW_KEYS if k in vals}
        keep.update(
            state="error",
            subject=str(vals.get("subject") or "")[:200],
            error_reason=reason,
            raw_source=base64.b64encode(raw),
        )
        try:
            with self.env.cr.savepoint():
                return Message.create(clean(keep))
        except Exception:
            _logger.exception("mail %s could not be stored even in error", vals.get("dedup_key"))
            return Message

    @api.model
    def _store_attachments(self, records, attachments):
        vals_list = [
            {
                "name": clean(att.name) or "attachment",
                "raw": att.content,
                "mimetype": clean(att.mimetype),
                "res_model": "mailbox.message",
                "res_id": record.id,
                "description": clean(att.content_id) or False,
                "mcl_damaged": att.damaged,
            }
            for record, atts in zip(records, attachments, strict=True)
            for att in atts
        ]
        if vals_list:
            stored = self.env["ir.attachment"].sudo().create(vals_list)
            self._show_inline_images(records, stored)

    @api.model
    def _show_inline_images(self, records, stored):
        """The bodies' ``cid:`` images pointed at the files just stored with their mails
        (``mailflow.inline``): ``/web/image/<id>``, which Odoo serves to whoever may read
        the mail (the file's access follows its mail: no access token that would show it to
        anyone holding the address). One write per mail that shows such an image."""
        by_record = {}
        for attachment in stored:
            if attachment.description:
                key = inline.content_id_key(attachment.description)
                by_record.setdefault(attachment.res_id, {}).setdefault(
                    key, f"/web/image/{attachment.id}"
                )
        for record in records:
            urls = by_record.get(record.id)
            if not urls or "cid:" not in (record.body_html or "").lower():
                continue
            body, count = inline.resolve(str(record.body_html), urls)
            if count:
                record.write({"body_html": Markup(body)})

    # -- mail in error ---------------------------------------------------------------------
    @api.model
    def _retry(self, messages):
        """Read the kept raw source of ``messages`` in error again (after a fix), at most
        MAX_RETRIES times by the sync. Returns the recovered mails (to be linked at once).
        A recovered mail whose Message-ID can now be read gets it as its dedup key, unless
        the mailbox already holds that mail (then it stays as it is)."""
        recovered = self.env["mailbox.message"]
        for message in messages.filtered(lambda m: m.state == "error" and m.raw_source):
            try:
                with self.env.cr.savepoint():
                    if self._retry_one(message):
                        recovered |= message
            except Exception as exc:
                _logger.exception("mail %s: internal error on retry", message.id)
                message.write(
                    {
                        "retry_count": message.retry_count + 1,
                        "error_reason": self.env._(
                            "Internal error of mail_crm_link while reading this mail (see "
                            "the server log): %s",
                            exc,
                        ),
                    }
                )
        return recovered

    @api.model
    def _retry_one(self, message):
        raw = base64.b64decode(message.raw_source)
        mailbox = message.mailbox_id
        mail = self._parse(raw, None)
        if mail.error:
            message.write({"retry_count": message.retry_count + 1, "error_reason": mail.error})
            return False
        vals = self._values_from_parsed(
            mailbox, message.folder_id, mail, raw, mailbox._internal_set()
        )
        key = vals.pop("dedup_key")
        if key != message.dedup_key and not self.env["mailbox.message"].search_count(
            [("mailbox_id", "=", mailbox.id), ("dedup_key", "=", key)], limit=1
        ):
            vals["dedup_key"] = key
        vals.update(
            state=vals.get("state", "new"),
            error_reason=False,
            raw_source=vals.get("raw_source", False),
            retry_count=message.retry_count + 1,
        )
        message.write(vals)
        self._store_attachments(message, [mail.attachments])
        return True

    @api.model
    def _retry_errors(self, mailbox):
        """The mails of ``mailbox`` in error that may be retried; returns the recovered."""
        return self._retry(
            self.env["mailbox.message"].search(
                [
                    ("mailbox_id", "=", mailbox.id),
                    ("state", "=", "error"),
                    ("retry_count", "<", MAX_RETRIES),
                ]
            )
        )

    @api.model
    def _store_forwarded(self, mailbox, raw):
        """Mail forwarded to ``mailbox``'s alias (Odoo's mail gateway received it): stored as
        mail of its Inbox and linked, in the gateway's transaction."""
        inbox = mailbox.folder_ids.filtered(lambda f: f.role == "inbox")[:1]
        records = self._store_batch(mailbox, inbox, [({}, raw, None)])
        self.env["mailbox.crm.linker"]._link_safely(records)
        return records


def odoo_root():
    """The directory that holds this process's ``odoo`` package (a namespace package on 19,
    without ``__file__``)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(tools.mail.__file__))))


def format_addresses(pairs):
    """[(name, address)] → 'Name <address>, …' with names readable (not RFC 2047 encoded)."""
    return (
        ", ".join(tools.formataddr((n, a), charset="utf-8") if n else a for n, a in pairs if a)
        or False
    )


__all__ = ["MailboxMessageStore", "clean", "format_addresses", "odoo_root"]
