"""Connection failures → a kind the mailbox can explain to a person (no ``odoo`` import)."""

import imaplib
import poplib
import socket
import ssl

from .imap_sync import FolderMissing, UidValidityChanged

AUTH, TLS_CERT, TLS, TIMEOUT, UNREACHABLE, FOLDER, PROTOCOL, INTERNAL = (
    "auth",
    "tls_cert",
    "tls",
    "timeout",
    "unreachable",
    "folder",
    "protocol",
    "internal",
)
# OAuth mailboxes: the provider no longer renews the access (consent revoked, password
# changed: only a new consent mends it), or its token service could not be reached
TOKEN_REFUSED, TOKEN_UNREACHABLE = "token_refused", "token_unreachable"
# the server renumbered a folder (UIDVALIDITY) in the middle of a sync (issue 24)
RENUMBERED = "renumbered"


class TokenRefused(Exception):
    """The provider refused to renew the mailbox's access token (``invalid_grant``)."""


class TokenUnreachable(OSError):
    """The provider's token service did not answer (network, timeout)."""


_AUTH_WORDS = (
    "authenticationfailed",
    "authentication failed",
    "[auth]",
    "invalid credentials",
    "login failed",
    "bad password",
    "password incorrect",
    "-err [auth]",
    "authenticate failed",  # Exchange Online, to a refused XOAUTH2
)


def classify(exc):
    """The kind of a failure: one of the mail server or the network, or ``INTERNAL`` for
    anything else (a failure of our own code, or of the database), which is never blamed
    on the mail server."""
    if isinstance(exc, FolderMissing):
        return FOLDER
    if isinstance(exc, UidValidityChanged):
        return RENUMBERED
    if isinstance(exc, TokenRefused):
        return TOKEN_REFUSED
    if isinstance(exc, TokenUnreachable):
        return TOKEN_UNREACHABLE
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLS_CERT
    if isinstance(exc, ssl.SSLError):
        return TLS
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TIMEOUT
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror, ConnectionResetError)):
        return UNREACHABLE
    if isinstance(exc, (imaplib.IMAP4.error, poplib.error_proto)):
        text = str(exc).lower()
        if any(word in text for word in _AUTH_WORDS):
            return AUTH
        return PROTOCOL
    if isinstance(exc, OSError):
        return UNREACHABLE
    return INTERNAL


def is_server_failure(exc):
    """True when the mail server or the network failed (retry later, with backoff)."""
    return classify(exc) != INTERNAL
