"""Decisions of the outbox (no ``odoo`` import): what a sending failure means for the user,
whether it is worth trying again, and whether a mailbox's own SMTP already saves sent mail.

A failure is one of a few kinds the outbox explains in a sentence. *Temporary* failures (the
server cannot be reached, a timeout, a 4xx answer) are tried again a few times, because
nothing left; *permanent* ones (login refused, recipient refused, 5xx) wait for a person.
A connection that breaks after the whole mail was handed over, before the server's answer,
is *uncertain*: the server may have taken the mail, so it is never tried again by itself.
"""

import smtplib
import socket
import ssl
from dataclasses import dataclass, field

from .addresses import normalize as normalize_address

NO_SERVER, UNREACHABLE, TIMEOUT, TLS, AUTH, RECIPIENT, SENDER, REFUSED, DISCONNECTED, INTERNAL = (
    "no_server",
    "unreachable",
    "timeout",
    "tls",
    "auth",
    "recipient",
    "sender",
    "refused",
    "disconnected",
    "internal",
)
UNCERTAIN = "uncertain"  # the connection broke after the whole mail, before the answer

MAX_ATTEMPTS = 3  # attempts of a mail whose failures are all temporary
RETRY_MINUTES = (1, 10)  # wait before the 2nd, 3rd attempt

# IMAP hosts whose SMTP server files every sent mail in the Sent folder by itself: an APPEND
# from Odoo would show each mail twice there.
SMTP_SAVES_SENT = (
    "imap.gmail.com",
    "imap.googlemail.com",
    "outlook.office365.com",
    "outlook.office.com",
    "imap-mail.outlook.com",
    "imap.outlook.com",  # what Odoo's microsoft_outlook fills in
)


@dataclass
class Failure:
    kind: str
    temporary: bool
    detail: str = ""
    code: int = 0
    addresses: list = field(default_factory=list)  # refused recipients


def saves_sent_by_default(host):
    """Whether Odoo should APPEND sent mail to the Sent folder of a mailbox on ``host``: not
    for Gmail and Office 365, whose SMTP servers save it already."""
    return (host or "").strip().lower().rstrip(".") not in SMTP_SAVES_SENT


def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


def _answer(exc):
    """The server's answer as it said it: code and text."""
    return f"{exc.smtp_code} {_decode(exc.smtp_error)}".strip()


def _cause_chain(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def classify(exc):
    """The :class:`Failure` behind ``exc`` (Odoo wraps SMTP errors in its own exception: the
    original is found in the chain of causes)."""
    for cause in _cause_chain(exc):
        failure = _classify_one(cause)
        if failure:
            return failure
    return Failure(INTERNAL, False, f"{type(exc).__name__}: {exc}")


def _classify_one(exc):
    if isinstance(exc, NoServer):
        return Failure(NO_SERVER, False, str(exc))
    if isinstance(exc, Uncertain):
        return Failure(UNCERTAIN, False, str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {a: (c, _decode(m)) for a, (c, m) in (exc.recipients or {}).items()}
        return refused_recipients(refused)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Failure(AUTH, False, _answer(exc), exc.smtp_code)
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # a login set up, none offered
        return Failure(AUTH, False, str(exc))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return Failure(
            SENDER, _is_4xx(exc.smtp_code), _answer(exc), exc.smtp_code, [_decode(exc.sender)]
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Failure(DISCONNECTED, True, str(exc))
    if isinstance(exc, smtplib.SMTPResponseException):
        return Failure(REFUSED, _is_4xx(exc.smtp_code), _answer(exc), exc.smtp_code)
    if isinstance(exc, ssl.SSLError):
        return Failure(TLS, False, str(exc))
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return Failure(TIMEOUT, True, str(exc))
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError, socket.gaierror)):
        return Failure(UNREACHABLE, True, str(exc))
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return Failure(UNREACHABLE, True, str(exc))
    return None


def refused_recipients(refused):
    """``refused``: {address: (code, text)} as smtplib reports it → a RECIPIENT failure,
    temporary only when every refusal is (4xx)."""
    addresses = sorted(refused)
    temporary = bool(refused) and all(_is_4xx(code) for code, _t in refused.values())
    detail = "; ".join(f"{a}: {code} {text}".strip() for a, (code, text) in sorted(refused.items()))
    code = max((c for c, _t in refused.values()), default=0)
    return Failure(RECIPIENT, temporary, detail, code, addresses)


def _is_4xx(code):
    return 400 <= int(code or 0) < 500


def after_failure(failure, attempts):
    """What to do after attempt number ``attempts`` failed: minutes to wait before trying
    again, or None when the mail is failed for good (permanent, or tried enough)."""
    if not failure.temporary or attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_MINUTES[min(attempts, len(RETRY_MINUTES)) - 1]


# Odoo's own failure types (``mail.notification.failure_type``) of our failure kinds, for
# the delivery indicator on the chatter entry; what is not listed is Odoo's "unknown" (a
# mail that may have been sent, an internal error), whose reason is our sentence.
FAILURE_TYPES = {
    NO_SERVER: "mail_smtp",
    UNREACHABLE: "mail_smtp",
    TIMEOUT: "mail_smtp",
    TLS: "mail_smtp",
    AUTH: "mail_smtp",
    REFUSED: "mail_smtp",
    DISCONNECTED: "mail_smtp",
    SENDER: "mail_from_invalid",
    RECIPIENT: "mail_email_invalid",
}


def failure_type(kind):
    """Odoo's ``failure_type`` for a failure kind."""
    return FAILURE_TYPES.get(kind, "unknown")


def notification_states(recipients, send_state, failure=None, refused=()):
    """Odoo's delivery state of each recipient of a mail: ``{address: (notification_status,
    failure_type or False)}``. ``recipients``: normalized addresses; ``send_state``: the
    mail's (queued, sending, sent, failed); ``failure``: the :class:`Failure` of a failed
    mail; ``refused``: normalized addresses the server refused while taking a sent mail for
    the others. A mail waiting for its next attempt is still *ready*: it has not failed."""
    refused = {normalize_address(a) for a in refused}
    failed_for = {normalize_address(a) for a in (failure.addresses if failure else ())}
    states = {}
    for address in recipients:
        if send_state == "sent":
            states[address] = (
                ("exception", "mail_email_invalid") if address in refused else ("sent", False)
            )
        elif send_state == "failed":
            kind = failure.kind if failure else INTERNAL
            own = kind == RECIPIENT and address not in failed_for
            # a recipient the server did not refuse did not get it either (others were)
            states[address] = ("exception", "unknown" if own else failure_type(kind))
        else:
            states[address] = ("ready", False)
    return states


class NoServer(Exception):
    """No outgoing server for the mailbox and none in Odoo (removed after the mail was
    queued)."""


class Uncertain(Exception):
    """The connection failed after the whole mail was handed to the server and before its
    answer (a cut, a timeout): the server may have taken the mail."""
