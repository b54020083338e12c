"""OAuth mailboxes (Gmail, Microsoft 365): when to refresh a token, when a long-lived
connection logs in again, and the XOAUTH2 exchange (no ``odoo`` import).

The tokens themselves are Odoo's (``google_gmail``, ``microsoft_outlook``): the glue that asks
for them lives in ``services/mailbox_oauth.py``.
"""

from dataclasses import dataclass

# fetchmail.server types whose login is AUTHENTICATE XOAUTH2 (added by Odoo's google_gmail and
# microsoft_outlook modules; absent, and never matched, without them). Both are IMAP.
PROVIDER_TYPES = ("gmail", "outlook")
IMAP_TYPES = ("imap", *PROVIDER_TYPES)

# A login takes a token valid for at least this long: refreshed before, never on the edge.
REFRESH_MARGIN = 300  # seconds
# A long-lived (IDLE) connection logs in again this long before its token expires: Exchange
# Online ends the session when the token expires ("* BYE ... AccessTokenExpired").
REAUTH_MARGIN = 120  # seconds


@dataclass(frozen=True)
class Token:
    """A login: the SASL XOAUTH2 string, when its access token expires (epoch seconds), and
    whether it was fetched from the provider just now (a refused fresh token is final)."""

    sasl: str
    expires_at: int
    refreshed: bool = False

    def __repr__(self):  # never the token in a log or a traceback
        return f"Token(expires_at={self.expires_at}, refreshed={self.refreshed})"


def needs_refresh(expires_at, now, min_validity=REFRESH_MARGIN):
    """True when the stored access token is missing or lives less than ``min_validity``."""
    return not expires_at or expires_at - now < min_validity


def reauth_at(expires_at, margin=REAUTH_MARGIN):
    """When (epoch seconds) a connection logged in with a token expiring at ``expires_at``
    logs in again; None when its login expires never (a password)."""
    if not expires_at:
        return None
    return expires_at - margin


def session_token_expired(line):
    """Whether the server's ``* BYE`` (the line, or imaplib's error that quotes it) says the
    session's token expired (Exchange Online: ``* BYE Session invalidated -
    AccessTokenExpired``)."""
    text = line.lower() if isinstance(line, bytes) else str(line).lower().encode(errors="replace")
    return b"accesstokenexpired" in text or b"token expired" in text


def xoauth2_responder(sasl):
    """imaplib's ``authenticate`` callback: the SASL string first; to a failure (a
    continuation carrying the provider's error, RFC 7628 §3.2.2) an empty response, which
    lets the server end the exchange with NO."""
    sent = []

    def respond(_challenge):
        if sent:
            return b""
        sent.append(True)
        return sasl

    return respond


# OAuth 2 error codes (RFC 6749 §5.2, OpenID Connect §3.1.2.6) that only the owner can cure by
# consenting again: the refresh token was revoked, expired, or needs the user in person.
REFUSAL_ERRORS = frozenset(
    {"invalid_grant", "interaction_required", "consent_required", "login_required"}
)


def token_answer_is_refusal(status, body):
    """Whether the token endpoint's answer (HTTP ``status``, parsed JSON ``body`` or None)
    withdraws access for good, rather than an outage (5xx, 429, ``temporarily_unavailable``)
    that the next attempt may not meet. No answer at all (``status`` None) is not a refusal."""
    if status is None or status >= 500 or status == 429:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, str) and error in REFUSAL_ERRORS
