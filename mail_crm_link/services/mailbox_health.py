"""Mailbox health: what a failed or successful sync leaves on the mailbox, and who is told.

Failures of the mail server (login refused, unreachable, TLS, timeout, odd answers) are
explained in a sentence on the mailbox and retried with backoff. A failure of our own code is
said to be ours ("internal error, see the server log"), logged with its traceback, and retried
at the normal polling interval: backing off would only delay mail once it is fixed.
Works inside the transaction it is given.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models

from .. import compat
from ..mailflow import errors, rules

_logger = logging.getLogger(__name__)

FAILURES_BEFORE_NOTICE = 3


class MailboxHealth(models.AbstractModel):
    _name = "mailbox.health"
    _description = "Mailbox Pipeline: Health"

    @api.model
    def _status_writer(self, mailbox):
        """The mailbox, for writing its sync status: core's ``fetchmail.server.write`` would
        toggle Odoo's fetchmail cron each time (status fields never change it)."""
        return mailbox.with_context(fetchmail_cron_running=True)

    @api.model
    def _record_success(self, mailbox):
        self._status_writer(mailbox).write(
            {
                "last_sync_at": fields.Datetime.now(),
                "last_error": False,
                "failure_count": 0,
                "next_sync_at": self._next_sync(mailbox, 0, rules.SERVER),
                "reconnect_needed": False,
            }
        )
        self._record_warnings(mailbox)

    @api.model
    def _record_warnings(self, mailbox):
        """A sync that succeeded but found the server contradicting itself (issue 24) is
        reported like a failure: said on the mailbox (its folders' warnings), and the owner
        and the administrators are told once per new kind of warning of a folder (the
        counts in a warning move with every mail: they do not make it new)."""
        current = {
            rules.warning_signature(folder.id, line)
            for folder in mailbox.folder_ids.filtered("sync")
            for line in (folder.sync_warning or "").splitlines()
            if line
        }
        told = rules.notified_signatures(mailbox.sudo().mcl_warning_notified)
        if not current - told:
            return
        self._status_writer(mailbox).sudo().mcl_warning_notified = "\n".join(sorted(told | current))
        self._notify_owner_and_admins(
            mailbox,
            self.env._("Mailbox %s: the server answered wrongly", mailbox.name),
            self.env._(
                "%(warning)s Check the mailbox's folders for what the server holds and "
                "what is stored.",
                warning=mailbox.sync_warning,
            ),
        )

    @api.model
    def _record_failure(self, mailbox, exc):
        """Write what went wrong on ``mailbox`` and when to try again; returns the sentence."""
        kind = errors.classify(exc)
        message = self._error_message(mailbox, exc)
        if kind == errors.INTERNAL:
            _logger.error(
                "Mailbox %s (id %s): internal error of mail_crm_link",
                mailbox.name,
                mailbox.id,
                exc_info=exc,
            )
        elif kind == errors.PROTOCOL:
            _logger.warning(
                "Mailbox %s (id %s): unexpected answer of the mail server: %s",
                mailbox.name,
                mailbox.id,
                message,
            )
        else:
            _logger.warning(
                "Mailbox %s (id %s) failed to sync: %s", mailbox.name, mailbox.id, message
            )
        failures = mailbox.failure_count + 1
        server_kind = rules.INTERNAL if kind == errors.INTERNAL else rules.SERVER
        self._status_writer(mailbox).write(
            {
                "last_error": message,
                "failure_count": failures,
                "next_sync_at": self._next_sync(mailbox, failures, server_kind),
                # a new consent of the owner mends it (or may): the form shows "Reconnect"
                "reconnect_needed": kind == errors.TOKEN_REFUSED
                or (kind == errors.AUTH and bool(self.env["mailbox.oauth"]._provider(mailbox))),
            }
        )
        if failures == FAILURES_BEFORE_NOTICE or (
            kind == errors.TOKEN_REFUSED and failures == 1  # waiting helps nothing: tell now
        ):
            self._notify_failure(mailbox, message)
        return message

    @api.model
    def _next_sync(self, mailbox, failures, kind):
        minutes = rules.next_sync_minutes(mailbox.poll_interval, failures, kind)
        return fields.Datetime.now() + timedelta(minutes=minutes)

    @api.model
    def _error_message(self, mailbox, exc):
        """A translated sentence that says what is wrong and how to fix it. Never contains
        the password."""
        kind = errors.classify(exc)
        detail = str(exc)
        password = mailbox.sudo().password
        if password:
            detail = detail.replace(password, "********")
        provider = self.env["mailbox.oauth"]._provider(mailbox)
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
            errors.RENUMBERED: self.env._(
                "The server renumbered folder %(detail)s in the middle of the sync (its "
                "UIDVALIDITY changed): nothing it sent after the change was stored. The folder "
                "is read again at the next sync; mail already stored is kept, once."
            ),
            errors.TOKEN_REFUSED: self.env._(
                "%(provider)s no longer gives access to mailbox %(name)s: the consent was "
                "withdrawn, the account's password changed or the app's credentials changed. "
                "It must be reconnected: an administrator opens the mailbox and clicks "
                "Reconnect, then the account's owner signs in to %(provider)s again. "
                "(%(detail)s)"
            ),
            errors.TOKEN_UNREACHABLE: self.env._(
                "The token service of %(provider)s is unreachable or busy and did not renew the "
                "access of mailbox %(name)s; it is tried again later. (%(detail)s)"
            ),
            errors.INTERNAL: self.env._(
                "Mailbox %(name)s could not be synchronized because of an internal error of "
                "mail_crm_link, not of the mail server (see the server log; %(error)s: "
                "%(detail)s). Mail stays on the server and is imported once this is fixed."
            ),
        }
        if provider and kind == errors.AUTH:
            messages[kind] = self.env._(
                "The mail server refused the %(provider)s login of mailbox %(name)s with a "
                "fresh access token: check that IMAP is enabled for the account and, for a "
                "shared mailbox, that the connected account has full access to it (see the "
                "module's configuration notes); if that is in order, click Reconnect. Server "
                "said: %(detail)s"
            )
        return messages[kind] % {
            "provider": provider.label if provider else "",
            "name": mailbox.name,
            "server": mailbox.server,
            "port": mailbox.port,
            "detail": detail,
            "error": type(exc).__name__,
        }

    @api.model
    def _notify_failure(self, mailbox, message):
        """Tell the owner and the administrators, in Odoo, what is wrong."""
        self._notify_owner_and_admins(
            mailbox,
            self.env._("Mailbox %s cannot be synchronized", mailbox.name),
            self.env._(
                "%(count)s attempts in a row failed. %(message)s Mail is imported again "
                "as soon as this is fixed.",
                count=mailbox.failure_count,
                message=message,
            ),
        )

    @api.model
    def _notify_owner_and_admins(self, mailbox, subject, body):
        admins = compat.group_users(self.env.ref("base.group_system").sudo())
        mailbox._mcl_notify_owner(subject, body, also=admins)
