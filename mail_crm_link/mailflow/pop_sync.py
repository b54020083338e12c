"""POP3 planning and transport over a ``poplib`` connection (no ``odoo`` import).

Messages are read with ``TOP n <huge>`` rather than ``RETR``: servers such as Dovecot mark a
message read when it is RETRieved, and we never change the user's read state.
"""

import contextlib
import poplib
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from .imap_sync import DEFAULT_TIMEOUT, tls_context

poplib._MAXLINE = 1 << 20  # long lines exist in real mail (base64 without folding)
WHOLE_MESSAGE = 10**9  # lines of body for TOP: the whole message


def connect(host, port, security, user, password, timeout=DEFAULT_TIMEOUT, verify=True):
    if security == "ssl":
        conn = poplib.POP3_SSL(host, port, timeout=timeout, context=tls_context(verify))
    else:
        conn = poplib.POP3(host, port, timeout=timeout)
        if security == "starttls":
            conn.stls(tls_context(verify))
    try:
        conn.user(user)
        conn.pass_(password)
    except Exception:
        close(conn)
        raise
    return conn


def close(conn):
    with contextlib.suppress(OSError, poplib.error_proto):
        conn.quit()  # QUIT applies DELEs; if the connection is gone they are redone next time


def list_uidls(conn):
    """[(message number, UIDL)] in server order."""
    _resp, lines, _octets = conn.uidl()
    result = []
    for line in lines:
        num, _sep, uidl = line.decode("ascii", "replace").partition(" ")
        result.append((int(num), uidl.strip()))
    return result


def plan(uidls, stored, delete_after_import):
    """(to fetch, to delete): UIDLs not stored yet are fetched; with deletion on, every
    message already stored is deleted (so a crash between storing and deleting is mended)."""
    to_fetch = [(num, uidl) for num, uidl in uidls if uidl not in stored]
    to_delete = [num for num, uidl in uidls if uidl in stored] if delete_after_import else []
    return to_fetch, to_delete


def retrieve(conn, num):
    _resp, lines, _octets = conn.top(num, WHOLE_MESSAGE)
    return b"\r\n".join(lines) + b"\r\n"


def list_sizes(conn):
    """{message number: size in octets} (LIST)."""
    _resp, lines, _octets = conn.list()
    sizes = {}
    for line in lines:
        num, _sep, size = line.decode("ascii", "replace").partition(" ")
        with contextlib.suppress(ValueError):
            sizes[int(num)] = int(size.split()[0])
    return sizes


def headers(conn, num):
    """The header block of message ``num`` only (TOP n 0): to read its date cheaply."""
    _resp, lines, _octets = conn.top(num, 0)
    return b"\r\n".join(lines) + b"\r\n"


def header_date(head):
    """The Date of a header block as an aware datetime, or None when it cannot be read."""
    try:
        value = BytesHeaderParser().parsebytes(head).get("Date")
        return parsedate_to_datetime(str(value)) if value else None
    except Exception:  # noqa: BLE001 (an unreadable date: the mail counts as inside the window)
        return None
