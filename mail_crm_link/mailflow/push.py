"""Push: keep an IMAP IDLE connection and call back on new mail (no ``odoo`` import)."""

import logging

from . import imap_sync

_logger = logging.getLogger(__name__)

BACKOFF = (1, 2, 5, 10, 30, 60, 120, 300)  # seconds between reconnection attempts
IDLE_SECONDS = 60  # re-issue IDLE this often (RFC 2177: at most every 29 minutes); also how
# long a stop request may wait


def watch(connect, on_change, stop, folder="INBOX", idle_seconds=IDLE_SECONDS, label=""):
    """Until ``stop`` (a threading.Event) is set: connect, catch up once (``on_change()``),
    then IDLE and call ``on_change()`` after each change the server announces. Any failure
    closes the connection and reconnects after a growing delay."""
    failures = 0
    while not stop.is_set():
        conn = None
        try:
            conn = connect()
            imap_sync.examine(conn, folder)
            failures = 0
            on_change()
            while not stop.is_set():
                imap_sync.idle_wait(conn, idle_seconds)
                # on news, and also after each quiet period: a notification that got lost
                # (mail arriving while the previous sync ran) costs at most one period
                on_change()
        except Exception as exc:  # noqa: BLE001 (a listener never dies: it backs off)
            delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
            failures += 1
            _logger.warning("push %s: %s; reconnecting in %ss", label, exc, delay)
            stop.wait(delay)
        finally:
            if conn is not None:
                imap_sync.close(conn)
