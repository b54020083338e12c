"""The outbox: mail written in the CRM is stored first, sent after the commit, never twice.

In the request (``_queue``, called by the composers): the mail, built with its final
Message-ID, is stored as an outgoing ``mailbox.message`` (recipients, attachments, links to
its card, its chatter entry) in send state *queued*, and its sending is registered for after
the commit. Nothing talks SMTP or IMAP inside the request: a request that Odoo re-runs after a
serialization failure was rolled back, its mail never left, and the re-run queues it afresh.

After the commit (``_send_queued``: from the post-commit hook, in a new cursor, for the few mails of
one request; from the cron for everything else), one mail at a time:

  1. claim: ``SELECT … FOR UPDATE SKIP LOCKED`` on a queued mail, mark it *sending* with a
     claim token, commit — durably "an attempt started";
  2. lock the row again (``FOR UPDATE NOWAIT``, the claim token must still be ours) and keep
     that lock while talking SMTP: a live sender is a locked row, for everybody to see;
  3. SMTP, then *sent* (or the failure: retried later when temporary, *failed* with the
     reason when not) and commit — from here the mail never leaves again;
  4. when the mailbox saves sent mail, APPEND it to the Sent folder unless it is there
     already (searched by Message-ID), then commit.

A connection that breaks in step 3 after the whole mail was handed over, before the
server's answer, is the same uncertainty: that mail is *failed* with "it may have been
sent", never retried by itself. A worker that dies in step 3 leaves the mail *sending* and
its row unlocked. The SMTP server
may or may not have taken the mail, and the outbox cannot know which: ``_recover_stale``
marks such a mail *failed* with "it may have been sent" and the user decides with Retry.
A duplicate to a client is worse than a mail the user is told about, so nothing is ever
resent silently.

This service is the ONLY owner of commits in the outbound path, as ``mailbox.sync`` is in
the inbound one; ``_queue`` works inside the request's transaction and never commits.
"""

import base64
import email
import email.policy
import logging
import secrets
import smtplib
import threading
import time
from collections import Counter, namedtuple
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tools import SQL

from .. import compat
from ..mailflow import imap_sync, outbox, parse, tracking

_logger = logging.getLogger(__name__)

AFTER_COMMIT_MAX = 10  # mails a request sends right after its commit; more go to the cron
PREPARE_NOW = 50  # a mass sending to this many records is prepared in the request itself
PREPARE_CHUNK = 100  # records of a longer one prepared (built, stored, queued) per commit
CRON_BATCH = 200  # mails per cron run at most (it re-triggers itself for the rest)
CRON_BUDGET = 50  # seconds per cron run at most
STALE_MINUTES = 2  # a mail "sending" and unlocked for this long: its worker died
STALE = "stale"  # failure kind of a mail whose worker died while sending
SETUP = "setup"  # failure kind of a setup problem that Odoo or the outbox says in a sentence

# One mail for ``_queue``: the MIME bytes (with their final Message-ID), the card it is
# written from (a crm.lead or res.partner record) and its open-tracking token (or False).
OutgoingMail = namedtuple("OutgoingMail", "raw record open_token")


class MailboxOutbox(models.AbstractModel):
    _name = "mailbox.outbox"
    _description = "Mailbox Pipeline: Outbox (store, commit, then send)"

    # -- in the request: store and queue (never sends, never commits) ----------------------
    @api.model
    def _check_server(self, mailbox):
        """Refuse to queue mail that could never leave: the mailbox has no outgoing server,
        and Odoo has none either."""
        server = mailbox.sudo().mail_server_id
        if server and not server.active:
            raise UserError(
                self.env._(
                    "The outgoing server %(server)s of mailbox %(mailbox)s is archived: an "
                    "administrator chooses another one on the mailbox (Outgoing Server).",
                    server=server.display_name,
                    mailbox=mailbox.name,
                )
            )
        if server or self._odoo_has_server():
            return
        raise UserError(self._no_server_message(mailbox))

    @api.model
    def _odoo_has_server(self):
        """An active outgoing mail server record, or an SMTP server chosen in Odoo's
        configuration file (its built-in default, localhost without login, does not count:
        a server that relies on it declares it as an outgoing server record)."""
        if self.env["ir.mail_server"].sudo().search_count([], limit=1):
            return True
        config = tools.config
        return bool(config.get("smtp_user")) or config.get("smtp_server") not in (
            None,
            False,
            "",
            "localhost",
        )

    @api.model
    def _no_server_message(self, mailbox):
        return self.env._(
            "Mailbox %s has no outgoing mail server, and Odoo has none either, so this mail "
            "could not leave. An administrator sets one on the mailbox (Outgoing Server) or "
            "in Settings › Technical › Outgoing Mail Servers.",
            mailbox.name,
        )

    @api.model
    def _queue(self, mailbox, mails, batch=None, history=False, after_commit=True):
        """Store ``mails`` (a list of :data:`OutgoingMail`) as outgoing mail of ``mailbox``,
        linked to their cards on behalf of the current user, in send state *queued*; their
        sending is registered for after the commit. Returns the stored mails, in order.

        ``history``: publish the chatter entries in one batch without notifying followers
        (a mass sending); otherwise as live mail. ``after_commit``: False when the caller
        sends them itself (the cron). Never sends, never commits."""
        self._check_server(mailbox)
        mailbox = mailbox.sudo()
        folder = mailbox.folder_ids.filtered(lambda f: f.role == "sent")[:1]
        now = fields.Datetime.now()
        stored = (
            self.env["mailbox.message.store"]
            .sudo()
            ._store_batch(mailbox, folder, [({}, mail.raw, now) for mail in mails])
        )
        by_id = {message.message_id: message for message in stored}
        Message = self.env["mailbox.message"].sudo()
        ordered, records, unstored = Message, [], []
        for mail in mails:
            message_id = parse.clean_message_id(_header(mail.raw, "Message-ID"))
            message = by_id.get(message_id)
            if not message or message.state == "error":
                reason = message.error_reason if message else message_id
                if not batch:
                    raise UserError(
                        self.env._("This mail could not be stored, so it was not sent: %s", reason)
                    )
                unstored.append(f"{mail.record.display_name}: {reason}")  # the others go on
                continue
            ordered |= message
            records.append(mail.record)
            message.write(
                {
                    "direction": "outgoing",
                    "send_state": "queued",
                    "send_user_id": self.env.uid,
                    "send_batch_id": batch.id if batch else False,
                    "outgoing_raw": base64.b64encode(mail.raw),
                    "open_token": mail.open_token or False,
                }
            )
        if unstored:
            batch.sudo().write(
                {
                    "skipped_count": batch.skipped_count + len(unstored),
                    "skipped_note": "\n".join(filter(None, [batch.skipped_note, *unstored])),
                }
            )
        # the recipients: known ones linked, new ones per the mailbox's outgoing policy
        self.env["mailbox.crm.linker"].sudo()._link(
            ordered, allow_create=mailbox.allow_any_address, run_hooks=False, history=history
        )
        self._link_cards(ordered, records, history)
        self._show_send_state(ordered)  # on the card at once: queued
        if after_commit:
            self._send_after_commit(ordered)
        return ordered.with_env(self.env)

    @api.model
    def _link_cards(self, messages, records, history):
        """Each mail on the card it was written from, as a link made by the current user,
        who must be able to edit that card (as ``mailbox.message.link._add_links``, for many
        mails at once)."""
        ids_by_model = {}
        for record in records:
            ids_by_model.setdefault(record._name, []).append(record.id)
        for model, ids in ids_by_model.items():
            self.env[model].browse(ids).check_access("write")
        Link = self.env["mailbox.message.link"].sudo()
        existing = {
            (link.message_id.id, link.lead_id.id or link.partner_id.id, bool(link.lead_id))
            for link in Link.search([("message_id", "in", messages.ids)])
        }
        vals_list = []
        for message, record in zip(messages, records, strict=True):
            is_lead = record._name == "crm.lead"
            if (message.id, record.id, is_lead) in existing:
                continue
            vals_list.append(
                {
                    "message_id": message.id,
                    "lead_id" if is_lead else "partner_id": record.id,
                    "link_type": "manual",
                    "user_id": self.env.uid,
                }
            )
        links = Link.create(vals_list)
        messages.sudo().filtered(lambda m: m.state != "linked").write(
            {"state": "linked", "needs_deal_choice": False}
        )
        self.env["mailbox.card.publisher"].sudo()._publish(links, history=history)
        return links

    @api.model
    def _show_send_state(self, messages, **state):
        """The mails' state on their chatter entries (``mailbox.card.publisher``). Showing it
        never costs a mail its bookkeeping: a failure here is logged, and the mail is sent
        and recorded all the same (the card's Emails list says its state)."""
        try:
            with self.env.cr.savepoint():
                self.env["mailbox.card.publisher"].sudo()._show_send_state(messages, **state)
        except Exception:
            _logger.exception("mail_crm_link: the state of mail %s not shown", messages.ids)

    @api.model
    def _send_after_commit(self, messages):
        """Send ``messages`` once the current transaction is committed: right after it, in a
        new cursor, for the few mails of one request (as Odoo's ``send_after_commit``);
        through the cron for many. A rolled-back transaction sends nothing."""
        if not messages or compat.sending_disabled(self.env):
            return  # Odoo's test mode skips SMTP: tests run the outbox explicitly (as core)
        cr = self.env.cr
        pending = cr.postcommit.data.setdefault("mailbox.outbox.ids", [])
        first = not pending
        crossed = len(pending) <= AFTER_COMMIT_MAX < len(pending) + len(messages)
        pending.extend(messages.ids)
        if crossed:
            self.env.ref("mail_crm_link.ir_cron_outbox_send")._trigger()
        if not first:
            return

        @cr.postcommit.add
        def send_queued_mail():
            ids = list(pending)
            if len(ids) > AFTER_COMMIT_MAX:
                return  # the cron was triggered: never hold the request for a long list
            self._send_in_background(ids)

    @api.model
    def _send_in_background(self, ids):
        """Send the committed mails ``ids`` in a thread of its own, with its own cursor on
        this environment's database (never a database named by a caller): the request that
        queued them answers at once, whatever the mail server does (a server that accepts
        the connection and never answers held the composer 60 s). Sending is claimed per
        mail (``_claim``): the cron never sends the same mail as this thread; a process that
        stops meanwhile leaves it to ``_recover_stale``. Returns the thread."""
        dbname = self.env.cr.dbname
        ids = [int(i) for i in ids]

        def run():
            try:
                with Registry(dbname).cursor() as new_cr:
                    env = api.Environment(new_cr, SUPERUSER_ID, {})
                    env["mailbox.outbox"]._send_queued(ids=ids)
            except Exception:
                _logger.exception("mail_crm_link: sending after commit failed; the cron retries")

        thread = threading.Thread(target=run, name="mail_crm_link.outbox", daemon=True)
        thread.start()
        return thread

    # -- after the commit: claim, send, record (the only place that commits) ---------------
    @api.model
    def _cron_send(self, time_budget=CRON_BUDGET, limit=CRON_BATCH):
        """The cron: recover mail whose worker died while sending, prepare mass sendings,
        send what is queued (in a bounded run; it re-triggers itself for the rest), save
        sent mail in Sent folders. Preparing gets half the run at most: whatever the mass
        sendings hold, the mail already queued still leaves."""
        self.env.cr.commit()  # nothing pending: each step has its own transactions  # pylint: disable=invalid-commit
        self._recover_stale()
        start = time.monotonic()
        deadline = start + time_budget
        more = self._prepare_batches(deadline=start + time_budget / 2)
        stats = self._send_queued(limit=limit, deadline=deadline)
        self._append_pending(deadline=deadline)
        remaining = self._count_due()
        done = stats["sent"] + stats["failed"] + stats["retry"]
        compat.cron_progress(self.env, done=done, remaining=remaining)
        if more or (remaining and done):
            self.env.ref("mail_crm_link.ir_cron_outbox_send")._trigger()
        return stats

    @api.model
    def _prepare_batches(self, deadline=None, chunk=PREPARE_CHUNK):
        """Prepare long mass sendings in committed chunks, each as the user who sent it.
        A chunk that fails as a whole (an internal error) is rolled back and its records are
        listed as not written to, with the reason; the rest of the list goes on. Returns True
        when work is left for the next run. ``deadline`` (``time.monotonic()``): by default
        one cron run's budget from now, never unbounded.

        Whatever a mass sending's bookkeeping holds, each step progresses or ends its
        preparing (``mailbox.send.batch._prepare_next``); a step that did neither stops it
        (with a note), so no stored value keeps the loop, or the cron, busy forever."""
        if deadline is None:
            deadline = time.monotonic() + CRON_BUDGET
        chunk = max(int(chunk or PREPARE_CHUNK), 1)
        Batch = self.env["mailbox.send.batch"].sudo()
        for batch in Batch.search([("preparing", "=", True)], order="id"):
            while batch.preparing:
                if time.monotonic() > deadline:
                    return True
                before = batch.prepared_count
                try:
                    batch.with_user(batch.user_id)._prepare_next(chunk, after_commit=False)
                    self.env.cr.commit()  # checkpoint: this chunk's mails, and the list's cursor  # pylint: disable=invalid-commit
                except Exception as exc:  # one chunk never stops the list
                    self.env.cr.rollback()
                    _logger.exception("mass sending %s: a chunk could not be prepared", batch.id)
                    try:
                        batch._skip_next(chunk, exc)
                    except Exception:  # not even listed (a list stored broken): stopped
                        self.env.cr.rollback()
                        _logger.exception("mass sending %s: stopped", batch.id)
                        batch._stop_preparing()
                    self.env.cr.commit()  # the failure is visible on the mass sending  # pylint: disable=invalid-commit
                if batch.preparing and batch.prepared_count <= before:
                    _logger.warning("mass sending %s: no progress, preparing stopped", batch.id)
                    batch._stop_preparing()
                    self.env.cr.commit()  # never the same step again  # pylint: disable=invalid-commit
        return False

    @api.model
    def _count_due(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT count(*) FROM mailbox_message WHERE send_state = 'queued' "
                "AND (send_after IS NULL OR send_after <= %s)",
                fields.Datetime.now(),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _send_queued(self, ids=None, limit=None, deadline=None):
        """Send queued mail (``ids``: only these), one mail at a time in its own
        transactions. Returns a Counter: ``sent``, ``failed``, ``retry`` (a temporary
        failure, tried again later), ``skipped`` (taken by another worker meanwhile).
        Commits; call it only where committing is fine (the cron, a new cursor, a script)."""
        return self.sudo()._send_run(ids, limit, deadline)

    @api.model
    def _send_run(self, ids, limit, deadline):
        stats = Counter(sent=0, failed=0, retry=0, skipped=0)
        connections = _Connections(self.env)
        try:
            while limit is None or sum(stats.values()) < limit:
                if deadline and time.monotonic() > deadline:
                    break
                claimed = self._claim(ids)
                if not claimed:
                    break
                try:
                    stats[self._send_claimed(*claimed, connections)] += 1
                except Exception:
                    # left "sending": _recover_stale says it may have been sent
                    self.env.cr.rollback()
                    _logger.exception("mail_crm_link: internal error sending mail %s", claimed[0])
                    stats["failed"] += 1
        finally:
            connections.close()
        return stats

    @api.model
    def _claim(self, ids=None):
        """Take one due queued mail for this worker: ``(id, claim token)`` or None. Mails a
        concurrent worker holds are skipped (SKIP LOCKED); the claim is committed."""
        cr = self.env.cr
        self.env.flush_all()
        only = SQL("AND id = ANY(%s)", list(ids)) if ids is not None else SQL()
        for _attempt in range(3):
            try:
                cr.execute(
                    SQL(
                        """
                        SELECT id FROM mailbox_message
                         WHERE send_state = 'queued'
                           AND (send_after IS NULL OR send_after <= %s) %s
                         ORDER BY id LIMIT 1
                           FOR UPDATE SKIP LOCKED
                        """,
                        fields.Datetime.now(),
                        only,
                    )
                )
                row = cr.fetchone()
                if not row:
                    cr.commit()  # end this read-only transaction  # pylint: disable=invalid-commit
                    return None
                token = secrets.token_hex(8)
                message = self.env["mailbox.message"].browse(row[0])
                message.invalidate_recordset()  # read what is committed, not an older cache
                message.write(
                    {
                        "send_state": "sending",
                        "send_claim": token,
                        "send_started_at": fields.Datetime.now(),
                        "send_attempts": message.send_attempts + 1,
                    }
                )
                cr.commit()  # durable: an attempt started (see _recover_stale)  # pylint: disable=invalid-commit
                return row[0], token
            except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
                # another worker claimed it after our snapshot: look again, afresh
                cr.rollback()
        return None

    @api.model
    def _pixel_url(self, message):
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        return tracking.pixel_url(message.get_base_url(), message.open_token, secret)

    @api.model
    def _lock_claimed(self, message_id, token):
        """Lock the claimed mail for the time of the SMTP talk; False if it is no longer
        ours (declared stale meanwhile) or locked by somebody else."""
        cr = self.env.cr
        try:
            cr.execute(
                """
                SELECT id FROM mailbox_message
                 WHERE id = %s AND send_state = 'sending' AND send_claim = %s
                   FOR UPDATE NOWAIT
                """,
                [message_id, token],
            )
            if cr.fetchone():
                self.env["mailbox.message"].browse(message_id).invalidate_recordset()
                return True
        except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
            _logger.info("mail %s: taken by another worker meanwhile", message_id)
        cr.rollback()
        return False

    @api.model
    def _send_claimed(self, message_id, token, connections):
        if not self._lock_claimed(message_id, token):
            return "skipped"
        message = self.env["mailbox.message"].browse(message_id)
        mailbox = message.mailbox_id
        try:
            raw = base64.b64decode(message.outgoing_raw or b"")
            pixel = message.open_token and self._pixel_url(message)
            if pixel:  # the recipient's copy only: the stored one has no image
                raw = tracking.add_pixel(raw, pixel)
            mail = _as_message(raw)
            refused = connections.smtp_send(mailbox, mail)
        except Exception as exc:
            failure = outbox.classify(exc)
            if failure.kind == outbox.INTERNAL and isinstance(exc, UserError):
                failure = outbox.Failure(SETUP, False, exc.args[0])  # a sentence already
            if failure.kind == outbox.INTERNAL:
                _logger.exception("mail_crm_link: internal error sending mail %s", message_id)
            else:
                _logger.info("mail %s not sent: %s", message_id, failure)
            result = self._record_failure(message, failure)
            self.env.cr.commit()  # the attempt is over: nothing left  # pylint: disable=invalid-commit
            return result
        sent = mail.as_bytes()  # as the server got it (Odoo may adjust From)
        if pixel:  # but for the image: the Sent folder is read by colleagues too
            sent = tracking.remove_pixel(sent, pixel)
        saved = connections.saves_sent(mailbox)
        self._record_sent(message, sent, saved, refused)
        self.env.cr.commit()  # the mail left: it is never sent again  # pylint: disable=invalid-commit
        if saved:
            self._append(message, connections, sent)
        return "sent"

    @api.model
    def _record_sent(self, message, sent, save, refused):
        note = False
        if refused:  # the server took the mail for the others
            note = self.env._(
                "Sent, but the outgoing server refused %(addresses)s: %(detail)s",
                addresses=", ".join(sorted(refused)),
                detail=outbox.refused_recipients(refused).detail,
            )
        message.write(
            {
                "send_state": "sent",
                "sent_at": fields.Datetime.now(),
                "send_error": note,
                "send_claim": False,
                "send_after": False,
                "append_state": "todo" if save else False,
                # what the Sent folder keeps, until it is there
                "outgoing_raw": base64.b64encode(sent) if save else False,
            }
        )
        self._show_send_state(message, refused=refused, reason=note)

    @api.model
    def _record_failure(self, message, failure):
        sentence = self._failure_message(message.mailbox_id, failure)
        wait = outbox.after_failure(failure, message.send_attempts)
        values = {"send_claim": False}
        if wait is None:
            values.update(send_state="failed", send_error=sentence, send_after=False)
            result = "failed"  # (a mail tried again later is still "ready" on the card)
        else:
            next_at = fields.Datetime.now() + timedelta(minutes=wait)
            values.update(
                send_state="queued",
                send_after=next_at,
                send_error=self.env._(
                    "Attempt %(attempt)s of %(max)s failed: %(reason)s It is tried again "
                    "automatically in %(minutes)s minute(s).",
                    attempt=message.send_attempts,
                    max=outbox.MAX_ATTEMPTS,
                    reason=sentence,
                    minutes=wait,
                ),
            )
            result = "retry"
        message.write(values)
        if result == "failed":
            self._show_send_state(message, failure=failure, reason=sentence)
        return result

    @api.model
    def _failure_message(self, mailbox, failure):
        """A translated sentence that says why a mail did not leave and what to do."""
        server = mailbox.sudo().mail_server_id
        name = server.display_name or self.env._("Odoo's default outgoing server")
        if failure.kind == outbox.NO_SERVER:
            return self._no_server_message(mailbox)
        if failure.kind == SETUP:
            return failure.detail
        messages = {
            outbox.UNREACHABLE: self.env._(
                "The outgoing mail server %(server)s cannot be reached: check its address and "
                "port, and that it is running. (%(detail)s)"
            ),
            outbox.TIMEOUT: self.env._(
                "The outgoing mail server %(server)s did not answer in time. (%(detail)s)"
            ),
            outbox.TLS: self.env._(
                "The secure connection to the outgoing mail server %(server)s failed: check its "
                "encryption setting and port. (%(detail)s)"
            ),
            outbox.AUTH: self.env._(
                "The outgoing mail server %(server)s refused the login: an administrator "
                "checks its username and password. (%(detail)s)"
            ),
            outbox.RECIPIENT: self.env._(
                "The outgoing mail server refused the recipient %(addresses)s: check the "
                "address. (%(detail)s)"
            ),
            outbox.SENDER: self.env._(
                "The outgoing mail server %(server)s refused the sender address %(addresses)s: "
                "it may not send mail from this address. (%(detail)s)"
            ),
            outbox.REFUSED: self.env._(
                "The outgoing mail server %(server)s refused the mail. (%(detail)s)"
            ),
            outbox.DISCONNECTED: self.env._(
                "The outgoing mail server %(server)s closed the connection. (%(detail)s)"
            ),
            outbox.UNCERTAIN: self.env._(
                "The connection to the outgoing mail server %(server)s broke while the mail "
                "was being handed over, before the server confirmed it: it may have been sent. "
                "Check with the recipient or in your mail program before pressing Retry, which "
                "sends it again. (%(detail)s)"
            ),
            STALE: self.env._(
                "Sending was interrupted (Odoo stopped) after the mail was handed to the "
                "outgoing server on %(detail)s: it may have been sent. Check with the "
                "recipient or in your mail program before pressing Retry, which sends it again."
            ),
            outbox.INTERNAL: self.env._(
                "The mail was not sent because of an internal error of mail_crm_link, not of "
                "the mail server (see the server log; %(detail)s)."
            ),
        }
        return messages.get(failure.kind, messages[outbox.INTERNAL]) % {
            "server": name,
            "detail": failure.detail,
            "addresses": ", ".join(failure.addresses),
        }

    # -- Sent folder -----------------------------------------------------------------------
    @api.model
    def _append(self, message, connections, raw=None):
        """Save a sent mail in its mailbox's Sent folder (once: see ``imap_sync.append_once``),
        holding its row lock meanwhile; the outcome is committed. ``raw``: its bytes, when
        the caller has them (else read from the queue column)."""
        cr = self.env.cr
        try:
            cr.execute(
                "SELECT id FROM mailbox_message WHERE id = %s AND append_state = 'todo' "
                "FOR UPDATE NOWAIT",
                [message.id],
            )
            if not cr.fetchone():
                cr.rollback()
                return
        except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
            cr.rollback()
            return
        message.invalidate_recordset()
        mailbox = message.mailbox_id
        if not connections.sent_folder(mailbox):  # turned off (or no Sent folder) meanwhile
            message.write({"append_state": False, "outgoing_raw": False})
            cr.commit()  # nothing to save  # pylint: disable=invalid-commit
            return
        try:
            connections.imap_append(
                mailbox,
                connections.sent_folder(mailbox),
                raw or base64.b64decode(message.outgoing_raw),
                message.message_id,
            )
        except Exception as exc:  # noqa: BLE001 (the mail is sent; say what failed)
            _logger.warning("Mailbox %s: could not save sent mail to Sent: %s", mailbox.id, exc)
            message.write(
                {
                    "append_state": "failed",
                    "link_note": self.env._(
                        "Sent, but not saved in the mailbox's Sent folder: %s",
                        mailbox._mcl_error_message(exc),
                    ),
                }
            )
        else:
            message.write({"append_state": "done", "outgoing_raw": False})
        cr.commit()  # the Sent folder's copy is recorded  # pylint: disable=invalid-commit

    @api.model
    def _append_pending(self, deadline=None):
        """Sent mail whose copy to the Sent folder was not made (its worker stopped)."""
        before = fields.Datetime.now() - timedelta(minutes=STALE_MINUTES)
        messages = self.env["mailbox.message"].search(
            [("append_state", "=", "todo"), ("sent_at", "<", before)], limit=CRON_BATCH
        )
        connections = _Connections(self.env)
        try:
            for message in messages:
                if deadline and time.monotonic() > deadline:
                    break
                self._append(message, connections)
        finally:
            connections.close()

    # -- crashed workers, retry ------------------------------------------------------------
    @api.model
    def _recover_stale(self, minutes=STALE_MINUTES):
        """Mail left *sending* by a worker that died (its row is no longer locked): it may
        have been sent, so it is *failed* with that reason, never resent silently."""
        cr = self.env.cr
        self.env.flush_all()
        before = fields.Datetime.now() - timedelta(minutes=minutes)
        try:
            cr.execute(
                """
                SELECT id FROM mailbox_message
                 WHERE send_state = 'sending' AND send_started_at <= %s
                   FOR UPDATE SKIP LOCKED
                """,
                [before],
            )
            ids = [row[0] for row in cr.fetchall()]
        except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
            cr.rollback()
            return self.env["mailbox.message"]
        messages = self.env["mailbox.message"].browse(ids)
        for message in messages:
            started = fields.Datetime.to_string(message.send_started_at)
            failure = outbox.Failure(STALE, False, started)
            sentence = self._failure_message(message.mailbox_id, failure)
            message.write(
                {
                    "send_state": "failed",
                    "send_claim": False,
                    "send_error": sentence,
                }
            )
            self._show_send_state(message, failure=failure, reason=sentence)
        cr.commit()  # the user sees what happened  # pylint: disable=invalid-commit
        return messages

    @api.model
    def _requeue(self, messages):
        """Queue failed (or waiting) mail again for one more attempt, sent after the
        commit. The caller checked who may."""
        messages.sudo().write(
            {
                "send_state": "queued",
                "send_after": False,
                "send_error": False,
                "send_attempts": 0,
                "send_claim": False,
            }
        )
        self._show_send_state(messages)  # ready again
        self._send_after_commit(messages)


class _Connections:
    """The SMTP and IMAP connections of one sending run, opened once per server and reused
    from mail to mail; a server that failed to connect is not tried again in the same run
    (its failure is given to its other mails, which are retried later)."""

    def __init__(self, env):
        self.env = env
        self.smtp = {}  # key → session (None in Odoo's test mode) or the exception raised
        self.imap = {}  # mailbox id → connection
        self.folders = {}  # mailbox id → name of its Sent folder, when it saves sent mail

    def _sent_folder(self, mailbox):
        """Read once per run (every commit empties the ORM cache)."""
        if mailbox.id not in self.folders:
            folder = mailbox.folder_ids.filtered(lambda f: f.role == "sent")[:1]
            self.folders[mailbox.id] = folder.name if mailbox._mcl_saves_sent() else False
        return self.folders[mailbox.id]

    def saves_sent(self, mailbox):
        return bool(self._sent_folder(mailbox))

    def sent_folder(self, mailbox):
        return self._sent_folder(mailbox)

    def _smtp_key(self, mailbox, mail):
        if mailbox.mail_server_id:
            return ("server", mailbox.mail_server_id.id)
        return ("from", str(mail["From"] or ""))

    def _smtp_session(self, mailbox, mail):
        key = self._smtp_key(mailbox, mail)
        session = self.smtp.get(key)
        if isinstance(session, Exception):
            raise session
        if session is not None:
            try:
                session.noop()  # a server may close an idle session: reconnect then
                return session
            except Exception:  # noqa: BLE001
                self._quit(session)
        Server = self.env["ir.mail_server"].sudo()
        if not mailbox.mail_server_id and not self.env["mailbox.outbox"]._odoo_has_server():
            raise outbox.NoServer()
        if mailbox.mail_server_id and not mailbox.mail_server_id.active:  # archived meanwhile
            self.env["mailbox.outbox"]._check_server(mailbox)  # raises its sentence
        try:
            session = compat.smtp_connect(
                Server,
                mail_server_id=mailbox.mail_server_id.id or None,
                smtp_from=str(mail["From"]),
            )
        except Exception as exc:
            self.smtp[key] = exc
            raise
        self.smtp[key] = session
        return session

    def smtp_send(self, mailbox, mail):
        """Send ``mail``; returns the recipients the server refused while taking it for the
        others ({address: (code, text)}); raises when it was not taken."""
        session = self._smtp_session(mailbox, mail)
        refused = {}
        if session is not None:
            original = session.send_message

            def send_message(*args, **kwargs):
                refused.update(original(*args, **kwargs) or {})
                return refused

            session.send_message = send_message  # see what the server refused
            original_data = session.data

            def data(msg):
                try:
                    return original_data(msg)
                except smtplib.SMTPResponseException:
                    raise  # the server answered: it did not take the mail
                except OSError as exc:  # cut or timed out: the server may have the mail
                    raise outbox.Uncertain(str(exc) or type(exc).__name__) from exc

            session.data = data  # see whether the line broke after the mail was handed over
        try:
            self.env["ir.mail_server"].sudo().send_email(
                mail, mail_server_id=mailbox.mail_server_id.id or None, smtp_session=session
            )
        except Exception:
            if session is not None:  # its state is unknown now: a fresh one next time
                self.smtp.pop(self._smtp_key(mailbox, mail), None)
                self._quit(session)
            raise
        finally:
            if session is not None:  # Odoo's SMTPConnection passes it to the real session
                session.send_message = original
                session.data = original_data
        return {
            address: (code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
            for address, (code, text) in refused.items()
        }

    def imap_append(self, mailbox, folder, raw, message_id):
        conn = self.imap.get(mailbox.id)
        if conn is None:
            conn = self.imap[mailbox.id] = mailbox._mcl_connect()
        try:
            imap_sync.append_once(conn, folder, raw, message_id)
        except Exception:
            self.imap.pop(mailbox.id, None)
            imap_sync.close(conn)
            raise

    @staticmethod
    def _quit(session):
        try:
            session.quit()
        except Exception:  # noqa: BLE001 (already gone)
            try:
                session.close()
            except Exception:  # noqa: BLE001
                _logger.debug("SMTP session already closed")

    def close(self):
        for session in self.smtp.values():
            if session is not None and not isinstance(session, Exception):
                self._quit(session)
        for conn in self.imap.values():
            imap_sync.close(conn)
        self.smtp.clear()
        self.imap.clear()


def _as_message(raw):
    """The queued bytes as a message to send. Headers in ASCII (the rule): the compat32
    policy, which sends them as built and parses many times faster than the header objects
    of email.policy.SMTP; an address in UTF-8 (SMTPUTF8) needs the latter."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    if head.isascii():
        return email.message_from_bytes(raw)
    return email.message_from_bytes(raw, policy=email.policy.SMTP)


def _header(raw, name):
    """One header of MIME bytes, read from the header block only."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return email.message_from_bytes(head + b"\r\n\r\n")[name] or ""
