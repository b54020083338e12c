"""OAuth mailboxes (Gmail, Microsoft 365): the access token of a login, from Odoo's own
``google_gmail`` / ``microsoft_outlook`` methods, and the way back to their consent flow.

Table of contents of a login's token (``token``): a short transaction of its own → lock the
mailbox row → read the stored token (after the lock: the newest, whoever refreshed it) →
refresh through Odoo's method when it lives less than the margin → commit at once.

- Its own transaction: Microsoft rotates the refresh token on every refresh; a rotated token
  lost to a rollback of the sync would leave the mailbox with a dead one (a new consent). It
  commits whatever the caller's transaction does next.
- The row lock (``SELECT ... FOR NO KEY UPDATE`` in READ COMMITTED, so that the row read after
  the lock is the one the previous holder committed): the cron and the listener never refresh
  one mailbox's token at the same time; the second one finds the first one's token and uses it.
  The caller must not hold an update of the mailbox's row (it would wait for itself: the lock
  wait is bounded, ``LOCK_TIMEOUT``).
- A transaction whose snapshot is older than a saved token cannot write the mailbox's row
  (REPEATABLE READ: the sync writes its outcome in a fresh transaction then, see
  ``mailbox.sync._finish``), but it can still store rows that refer to the mailbox: the lock
  and the save are those of an update that keeps the row's key (``FOR NO KEY UPDATE``), which
  the foreign keys' ``FOR KEY SHARE`` checks do not conflict with.
- Nothing here re-implements the providers' flow: refresh, storage of the tokens and the
  consent are Odoo's (``_generate_oauth2_string``, ``_generate_outlook_oauth2_string``,
  ``open_google_gmail_uri``, ``open_microsoft_outlook_uri``), called with superuser rights.

A refused refresh is told from an outage by the token endpoint's answer: Odoo's methods raise
the same ``UserError`` for both (Gmail's without the answer's text), so ``_TokenAnswers`` keeps
the answers that ``requests`` received in this thread while Odoo's method runs, and
``oauth.token_answer_is_refusal`` decides (``invalid_grant``: reconnect; a 503: try later).

The server types exist only when those modules are installed: without them no mailbox has
them and nothing here runs (no import of theirs either: mail_crm_link does not depend on
them).
"""

import functools
import json
import logging
import threading
import time
from dataclasses import dataclass

import requests
import requests.adapters

from odoo import SUPERUSER_ID, api, models
from odoo.exceptions import UserError

from .. import compat
from ..mailflow import errors, oauth, secrets

_logger = logging.getLogger(__name__)

LOCK_TIMEOUT = "30s"  # a refresh of another worker takes one HTTP request (Odoo: 5 to 10 s)


class _TokenAnswers(threading.local):
    """The HTTP answers that ``requests`` received in this thread while ``listening`` (the
    call of Odoo's token method); nothing is kept outside it. Installed once around
    ``requests.adapters.HTTPAdapter.send``, through which every ``requests.post`` of Odoo's
    methods goes (also when Odoo's test cases replace ``Session.send``)."""

    listening = None  # a list while recording

    def record(self):
        self.listening = []
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.listening = None

    def last(self):
        """``(status, parsed JSON body or None)`` of the last answer, or ``(None, None)``."""
        if not self.listening:
            return None, None
        response = self.listening[-1]
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        return response.status_code, body


_answers = _TokenAnswers()


def _recording(send):
    @functools.wraps(send)
    def send_and_record(adapter, request, *args, **kwargs):
        response = send(adapter, request, *args, **kwargs)
        if _answers.listening is not None:
            _answers.listening.append(response)
        return response

    send_and_record.mcl_recording = True
    return send_and_record


if not getattr(requests.adapters.HTTPAdapter.send, "mcl_recording", False):  # once
    requests.adapters.HTTPAdapter.send = _recording(requests.adapters.HTTPAdapter.send)


@dataclass(frozen=True)
class Provider:
    """Where Odoo keeps a provider's token and which of its methods to call."""

    label: str
    expiry_field: str
    token_fields: tuple
    sasl_method: str  # (mailbox) -> SASL string, refreshing and storing when expired
    consent_method: str  # the button of Odoo's form that opens the consent page


PROVIDERS = {
    "gmail": Provider(
        label="Google",
        expiry_field="google_gmail_access_token_expiration",
        token_fields=(
            "google_gmail_access_token",
            "google_gmail_access_token_expiration",
            "google_gmail_refresh_token",
        ),
        sasl_method="_mcl_gmail_sasl",
        consent_method="open_google_gmail_uri",
    ),
    "outlook": Provider(
        label="Microsoft",
        expiry_field="microsoft_outlook_access_token_expiration",
        token_fields=(
            "microsoft_outlook_access_token",
            "microsoft_outlook_access_token_expiration",
            "microsoft_outlook_refresh_token",
        ),
        sasl_method="_mcl_outlook_sasl",
        consent_method="open_microsoft_outlook_uri",
    ),
}


class MailboxOAuth(models.AbstractModel):
    _name = "mailbox.oauth"
    _description = "Mailbox Pipeline: OAuth Tokens"

    @api.model
    def _provider(self, mailbox):
        """The mailbox's ``Provider``, or None for a password mailbox."""
        return PROVIDERS.get(mailbox.server_type)

    @api.model
    def _authenticator(self, mailbox, min_validity=oauth.REFRESH_MARGIN):
        """What ``imap_sync.connect`` calls for a token: ``(force) -> oauth.Token``."""
        return lambda force=False: self._token(mailbox, min_validity=min_validity, force=force)

    @api.model
    def _token(self, mailbox, min_validity=oauth.REFRESH_MARGIN, force=False):
        """An ``oauth.Token`` for the login of ``mailbox`` valid for ``min_validity`` seconds at
        least (``force``: a new one, the server refused the stored one), refreshed and saved
        in a short transaction of its own that commits at once (see the module's doc)."""
        mailbox.ensure_one()
        provider = self._provider(mailbox)
        with self.env.registry.cursor() as cr:
            if not compat.is_test_cursor(cr):  # (a test's cursor is already in use)
                # each statement sees what was committed before it: the row read after the
                # lock is the newest, not the one of a snapshot taken before waiting
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("SET LOCAL lock_timeout = %s", [LOCK_TIMEOUT])
            # the lock an UPDATE of the row takes: two refreshers wait for each other, a
            # transaction that only refers to the mailbox (a new stored mail) does not block
            cr.execute(
                "SELECT id FROM fetchmail_server WHERE id = %s FOR NO KEY UPDATE", [mailbox.id]
            )
            box = api.Environment(cr, SUPERUSER_ID, {})[mailbox._name].browse(mailbox.id)
            stale = force or oauth.needs_refresh(
                box[provider.expiry_field], time.time(), min_validity
            )
            self._check_readable(box, provider)
            if stale:  # Odoo's method refreshes a token it finds expired, and stores it
                box[provider.expiry_field] = 0
            try:
                with _answers.record():
                    try:
                        sasl = getattr(self, provider.sasl_method)(box)
                    finally:
                        status, body = _answers.last()
            except UserError as exc:
                if status is not None and not oauth.token_answer_is_refusal(status, body):
                    # an outage or throttling of the provider: the next attempt may pass
                    raise errors.TokenUnreachable(f"{exc} (HTTP {status})") from None
                raise errors.TokenRefused(str(exc)) from None
            except requests.RequestException as exc:
                raise errors.TokenUnreachable(str(exc)) from None
            expires_at = box[provider.expiry_field]
            box.flush_recordset()
            # the commit of the context manager: saved whatever the caller does next
        if stale:
            _logger.info(
                "Mailbox %s (id %s): new %s access token, valid for %s minutes",
                mailbox.name,
                mailbox.id,
                provider.label,
                (expires_at - int(time.time())) // 60,
            )
        mailbox.invalidate_recordset(list(provider.token_fields))  # the caller's cache
        return oauth.Token(sasl, expires_at, refreshed=stale)

    @api.model
    def _check_readable(self, box, provider):
        """A token this server cannot decrypt (encrypted with a key it lacks, or the key it
        has is not valid) is never sent to the provider as ciphertext, to be reported as a
        withdrawn consent: the sentence names the key (issue 23, finding 12)."""
        from ..models import fields_extra  # services load before models

        problem = fields_extra.secret_key_problem()
        # no f-string inside the translated call: Odoo's extractor evaluates its literals
        detail = ": " + problem if problem else ""
        for name in provider.token_fields:
            if secrets.is_encrypted(box[name]):
                raise UserError(
                    self.env._(
                        "The %(provider)s tokens of mailbox %(name)s are stored encrypted with "
                        "a key this server cannot use (option %(option)s%(problem)s): fix the "
                        "key in the server configuration, or connect the mailbox again.",
                        provider=provider.label,
                        name=box.display_name,
                        option=fields_extra.CONFIG_KEY,
                        problem=detail,
                    )
                )

    # -- Odoo's token methods, one per provider ------------------------------------------------
    @api.model
    def _mcl_gmail_sasl(self, box):
        return box._generate_oauth2_string(box.user, box.google_gmail_refresh_token)

    @api.model
    def _mcl_outlook_sasl(self, box):
        # ``user`` is the mailbox the login opens: a Microsoft 365 shared mailbox is opened
        # with the token of a delegate who has Full Access to it (see readme/CONFIGURE.md)
        return box._generate_outlook_oauth2_string(box.user)

    # -- the way back: Odoo's consent page ------------------------------------------------------
    @api.model
    def _consent_action(self, mailbox):
        """The action of Odoo's "Connect your account" button of this mailbox's provider."""
        provider = self._provider(mailbox)
        if provider is None:
            raise UserError(self.env._("Mailbox %s does not log in with OAuth.", mailbox.name))
        return getattr(mailbox, provider.consent_method)()
