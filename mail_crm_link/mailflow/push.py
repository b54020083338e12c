"""Push: watch a folder with IMAP IDLE and sync until nothing is left behind (no ``odoo``
import).

One watcher per mailbox, in its own thread::

    connect ─▶ EXAMINE INBOX ─▶ catch up ─▶ IDLE ─▶ (news or quiet period) ─▶ catch up ─▶ IDLE …

*Catch up* never trusts a notification alone. It asks the server, on the IDLE connection,
which UIDs of the folder lie above the last UID the sync stored (``NOOP`` + ``UID SEARCH``;
the checkpoint is read from the database), syncs while there are any, and only then goes
back to IDLE. A mail that arrives while a sync runs is therefore found by the check that
follows that sync; one announced when IDLE starts is read by the connection's one reader
(``imap_sync._Reader``); a sync that finds the mailbox busy (the cron holds it) is retried
shortly. Every step is logged at INFO, so a stall can be read from the log.

An OAuth login (Gmail, Microsoft 365) holds until its token expires: the watcher logs in again
``reauth_margin`` seconds before (Exchange Online ends the session at expiry), and when the
server ends the session because the token expired all the same, it logs in again at once.
"""

import imaplib
import logging
import random
import time
from dataclasses import dataclass

from . import errors, imap_sync, oauth

_logger = logging.getLogger(__name__)

BACKOFF = (1, 2, 5, 10, 30, 60, 120, 300)  # seconds between reconnection attempts
IDLE_SECONDS = 60  # re-issue IDLE this often (RFC 2177: at most every 29 minutes), and check
# the folder against the checkpoint after each quiet period
RETRY = (0.2, 0.5, 1, 2, 5)  # seconds before a sync is tried again (busy, or still behind)
STALL_LIMIT = 5  # syncs in a row that leave the same mail behind: wait for the next period
STOP_POLL = 5  # seconds: how often an IDLE looks whether the watcher was asked to stop


@dataclass(frozen=True)
class Synced:
    """The sync's checkpoint of the watched folder, as stored in the database."""

    uidvalidity: int
    last_uid: int


def behind(uidvalidity, uids_above, synced):
    """True when the server holds mail of the folder that the sync has not stored:
    UIDs above the checkpoint, or a UIDVALIDITY the checkpoint does not belong to."""
    if synced is None:
        return True  # never synced (the first sync finds the folders)
    if uidvalidity and synced.uidvalidity != uidvalidity:
        return True
    return bool(uids_above)


def parse_shard(text):
    """'K/N' → (K, N) with 0 <= K < N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"a shard is K/N, for example 0/2 (not {text!r})") from None
    if not 0 <= index < count:
        raise ValueError(f"a shard K/N needs 0 <= K < N (not {text!r})")
    return index, count


def in_shard(mailbox_id, shard):
    """Whether the listener of ``shard`` ((K, N) or None: all) watches this mailbox."""
    return shard is None or mailbox_id % shard[1] == shard[0]


def retry_delay(attempt, delays=RETRY):
    return delays[min(attempt, len(delays) - 1)]


def reconnect_delay(failures, jitter=random.uniform):
    """Backoff after a failed connection, spread ±20 % so that the watchers of many mailboxes
    do not all reconnect at the same instant after a server restart."""
    return BACKOFF[min(failures, len(BACKOFF) - 1)] * jitter(0.8, 1.2)


def summary(result):
    """A sync's result dict as one short phrase for the log."""
    queued = result.get("queued") or 0
    waited = f" (after {queued:.2f}s waiting for a sync slot)" if queued >= 0.01 else ""
    if result.get("busy"):
        return "busy (another worker is syncing this mailbox)" + waited
    if result.get("error"):
        return f"failed: {result['error']}" + waited
    keys = ("new", "fetched", "failed", "partial")
    return ", ".join(f"{key} {result[key]}" for key in keys if result.get(key) is not None) + waited


class Watcher:
    """Watch ``folder`` of one mailbox until ``stop`` (a threading.Event) is set.

    - ``connect()``: a logged-in connection made by ``imap_sync.connect``;
    - ``sync()``: sync the whole mailbox (another connection) and return its result dict
      (``new``/``fetched``/… or ``busy`` or ``error``);
    - ``synced()``: the folder's checkpoint (``Synced``) from the database, None if the folder
      is not synchronized (yet).

    Any failure closes the connection and reconnects after a growing delay.
    """

    def __init__(
        self,
        connect,
        sync,
        synced,
        stop,
        folder="INBOX",
        idle_seconds=IDLE_SECONDS,
        stop_poll=STOP_POLL,
        label="",
        logger=_logger,
        reauth_margin=oauth.REAUTH_MARGIN,
    ):
        self.connect = connect
        self.sync = sync
        self.synced = synced
        self.stop = stop
        self.folder = folder
        self.idle_seconds = idle_seconds
        self.stop_poll = stop_poll
        self.label = label
        self.log = logger
        self.reauth_margin = reauth_margin

    def run(self):
        failures = 0
        expired = False  # the last session ended for its token: once at once, then back off
        while not self.stop.is_set():
            conn = None
            try:
                conn = self.connect()
                status = imap_sync.examine(conn, self.folder)
                self.log.info(
                    "%s: watching %s (%s messages, UIDNEXT %s)",
                    self.label,
                    self.folder,
                    status.messages,
                    status.uidnext,
                )
                failures = 0
                reauth = oauth.reauth_at(
                    getattr(conn, "token_expires_at", None), self.reauth_margin
                )
                self.catch_up(conn, status.uidvalidity, news=True)
                while not self.stop.is_set():
                    if reauth is not None and time.time() >= reauth:
                        self.log.info("%s: the token expires soon: logging in again", self.label)
                        break  # a new login, at once: not a failure
                    news = self.idle(conn, until=reauth)
                    self.catch_up(conn, status.uidvalidity, news=bool(news))
            except Exception as exc:  # noqa: BLE001 (a listener never dies: it backs off, and logs)
                token_expired = isinstance(exc, imaplib.IMAP4.abort) and (
                    oauth.session_token_expired(str(exc))
                )
                if token_expired and not expired:
                    # Exchange Online at the token's expiry (during IDLE or a command): a new
                    # login, with a fresh token, mends it at once
                    self.log.info("%s: %s; logging in again", self.label, exc)
                else:
                    failures = self._back_off(exc, failures)
                expired = token_expired
            finally:
                if conn is not None:
                    imap_sync.close(conn)

    def _back_off(self, exc, failures):
        delay = reconnect_delay(failures)
        self.log.warning(
            "%s: %s; reconnecting in %.0fs",
            self.label,
            exc,
            delay,
            # a connection or protocol failure says it all; anything else is a bug
            exc_info=not isinstance(exc, (OSError, imaplib.IMAP4.error, errors.TokenRefused)),
        )
        self.stop.wait(delay)
        return failures + 1

    def idle(self, conn, until=None):
        """One IDLE, ended by news, the quiet period or ``until`` (epoch seconds: the time to
        log in again)."""
        self.log.info("%s: IDLE", self.label)
        started = time.monotonic()
        timeout = self.idle_seconds
        if until is not None:
            timeout = max(min(timeout, until - time.time()), 0)
        result = imap_sync.idle_wait(conn, timeout, stop=self.stop, poll=self.stop_poll)
        for line in result.lines:
            if line in result.changes:
                self.log.info("%s: server: %s", self.label, line.decode(errors="replace"))
            else:
                self.log.debug("%s: server: %s", self.label, line.decode(errors="replace"))
        if not result:
            self.log.info(
                "%s: IDLE ended after %.0fs without news", self.label, time.monotonic() - started
            )
        return result

    def catch_up(self, conn, uidvalidity, news):
        """Sync until the server has nothing above the stored checkpoint.

        ``news``: the server announced something (or the watcher just connected). Without
        news the sync runs only if the check finds mail left behind."""
        busy = stalls = 0
        previous = None  # what the last sync left behind: (checkpoint, highest UID above it)
        synced_once = False
        while not self.stop.is_set():
            synced = self.synced()
            if synced is None:
                if synced_once or not news:
                    return  # a folder the sync does not keep: nothing to compare with
                left = (None, None)
            else:
                uids = imap_sync.uids_above(conn, synced.last_uid)
                if not behind(uidvalidity, uids, synced):
                    return
                left = (synced, uids[-1] if uids else None)
                self.log.info(
                    "%s: %s UID(s) above the stored %s, up to %s: %s",
                    self.label,
                    len(uids),
                    synced.last_uid,
                    left[1],
                    "syncing again" if synced_once else "syncing",
                )
            if left == previous:  # the last sync did not get this very mail
                stalls += 1
                if stalls >= STALL_LIMIT:
                    self.log.warning(
                        "%s: %s syncs in a row left UID %s behind; next try after IDLE",
                        self.label,
                        stalls,
                        left[1],
                    )
                    return
                self.stop.wait(retry_delay(stalls - 1))
            previous = left
            started = time.monotonic()
            result = self.sync()
            self.log.info(
                "%s: sync in %.2fs: %s", self.label, time.monotonic() - started, summary(result)
            )
            if result.get("busy"):  # the cron (or another listener) holds it: soon again
                self.stop.wait(retry_delay(busy))
                busy += 1
                previous = None
                continue
            if result.get("error"):
                return  # the mailbox shows the error; the next quiet period checks again
            synced_once = True
