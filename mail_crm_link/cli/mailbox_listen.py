"""``odoo-bin --addons-path=PATHS mailbox_listen -c CONFIG -d DATABASE [--shard K/N]``: push
(IMAP IDLE).

Runs beside Odoo's server (multi-process or not): one thread per mailbox with push on, each
holding an IDLE connection and syncing its mailbox, in a cursor of its own, until the server
has nothing above the stored checkpoint (see ``mailflow/push.py``). The sync takes the
mailbox's advisory lock, so the polling cron and this listener never sync one mailbox at once.
New or changed mailboxes are picked up every ``--refresh`` seconds.

Scaling out: each listener claims the mailboxes it watches with a PostgreSQL advisory lock
held by one connection of its own, so two listeners never watch one mailbox, whatever their
options; a listener that dies releases its claims with its connection and the others take
them over at their next refresh. ``--shard K/N`` splits the mailboxes by id between N
listeners (on one host or several); ``--max-mailboxes`` caps what one process takes.
"""

import argparse
import logging
import signal
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.cli import Command
from odoo.modules.registry import Registry
from odoo.tools import config

# absolute: Odoo 19 loads this file on its own, as odoo.cli.mailbox_listen (see compat)
from odoo.addons.mail_crm_link import compat  # pylint: disable=odoo-addons-relative-import
from odoo.addons.mail_crm_link.mailflow import push  # pylint: disable=odoo-addons-relative-import

_logger = logging.getLogger(__name__)

# pg_try_advisory_lock(namespace, mailbox id) held by the listener that watches a mailbox.
# The sync's lock uses 0x4D434C ("MCL"); this is the next one.
CLAIM_NAMESPACE = 0x4D434D
SYNC_BUDGET = 30  # seconds: a long import yields its sync slot to other mailboxes, then resumes


class MailboxListener:
    """Watcher threads for the push mailboxes of one database.

    Database work is bounded whatever the number of mailboxes: at most ``sync_slots`` syncs
    at once (each holds a cursor for its duration, at most ``SYNC_BUDGET`` seconds at a time),
    plus short reads. IDLE connections themselves cost a thread and a socket each.
    """

    def __init__(
        self,
        registry,
        idle_seconds=push.IDLE_SECONDS,
        shard=None,
        max_mailboxes=None,
        sync_slots=4,
        stop_poll=push.STOP_POLL,
        reauth_margin=push.oauth.REAUTH_MARGIN,
    ):
        self.registry = registry
        self.reauth_margin = reauth_margin  # OAuth: log in again this long before expiry
        self.stop_poll = stop_poll
        self.idle_seconds = idle_seconds
        self.shard = shard  # (K, N) or None
        self.max_mailboxes = max_mailboxes
        self.stop = threading.Event()
        self.watchers = {}  # mailbox id → (thread, its own stop event)
        self.stopping = []  # threads told to stop, maybe still finishing a sync
        self.sync_slots = threading.BoundedSemaphore(sync_slots)
        self.read_slots = threading.BoundedSemaphore(sync_slots * 2)
        self._claims_cr = None

    # -- what the watchers call, each in a cursor of its own --
    def sync_mailbox(self, mailbox_id):
        asked = time.monotonic()
        with self.sync_slots, self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.monotonic()
            result = (
                env["fetchmail.server"].browse(mailbox_id)._mcl_sync(deadline=started + SYNC_BUDGET)
            )
        return {**result, "queued": started - asked}  # waited for a sync slot (log)

    def synced_inbox(self, mailbox_id):
        """The checkpoint of the mailbox's synchronized Inbox (push.Synced), or None."""
        with self.read_slots, self.registry.cursor() as cr:
            cr.execute(
                """SELECT uidvalidity, last_uid FROM mailbox_folder
                    WHERE mailbox_id = %s AND role = 'inbox' AND sync
                    ORDER BY id LIMIT 1""",
                [mailbox_id],
            )
            row = cr.fetchone()
        return push.Synced(row[0] or 0, row[1] or 0) if row else None

    def connect(self, mailbox_id):
        with self.read_slots, self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            # OAuth: a token that outlives the next re-login (see push.Watcher) by a margin
            return (
                env["fetchmail.server"]
                .browse(mailbox_id)
                ._mcl_connect(min_validity=2 * self.reauth_margin)
            )

    # -- which mailboxes this listener watches --
    def push_mailbox_ids(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            ids = (
                env["fetchmail.server"]
                .search(
                    [
                        ("push_enabled", "=", True),
                        ("crm_link_mode", "!=", "off"),
                        ("server_type", "in", push.oauth.IMAP_TYPES),
                        ("state", "=", "done"),
                        # a refused token waits for its owner: the sync cron tells them
                        ("reconnect_needed", "=", False),
                    ],
                    order="id",
                )
                .ids
            )
        return [i for i in ids if push.in_shard(i, self.shard)]

    def _claims(self):
        """The listener's own connection, that holds its claims (session advisory locks)."""
        if self._claims_cr is None or self._claims_cr.closed:
            self._claims_cr = self.registry.cursor()
        return self._claims_cr

    def _claim(self, mailbox_ids):
        """Of ``mailbox_ids``, those this listener now holds (newly claimed)."""
        cr = self._claims()
        claimed = []
        for mailbox_id in mailbox_ids:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [CLAIM_NAMESPACE, mailbox_id])
            if cr.fetchone()[0]:
                claimed.append(mailbox_id)
        # the claims are session locks: they outlive this commit, which only keeps the
        # listener's connection from staying idle in a transaction
        cr.commit()  # pylint: disable=invalid-commit
        return claimed

    def _release(self, mailbox_ids):
        if not mailbox_ids or self._claims_cr is None or self._claims_cr.closed:
            return
        cr = self._claims_cr
        for mailbox_id in mailbox_ids:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", [CLAIM_NAMESPACE, mailbox_id])
        cr.commit()  # no transaction left open on the claims connection  # pylint: disable=invalid-commit

    def refresh(self):
        """Start watchers for push mailboxes this listener can claim, stop those no longer
        pushed (or beyond the shard). Returns the ids watched."""
        wanted = self.push_mailbox_ids()
        gone = set(self.watchers) - set(wanted)
        for mailbox_id in gone:
            thread, stop = self.watchers.pop(mailbox_id)
            stop.set()
            self.stopping.append(thread)
            _logger.info("mailbox %s: push off or moved: no longer watched", mailbox_id)
        self._release(sorted(gone))
        self.stopping = [thread for thread in self.stopping if thread.is_alive()]
        room = (
            len(wanted)
            if self.max_mailboxes is None
            else max(self.max_mailboxes - len(self.watchers), 0)
        )
        candidates = [m for m in wanted if m not in self.watchers][:room] if room else []
        for mailbox_id in self._claim(candidates):
            self._start(mailbox_id)
        return set(self.watchers)

    def _start(self, mailbox_id):
        stop = threading.Event()
        watcher = push.Watcher(
            connect=lambda: self.connect(mailbox_id),
            sync=lambda: self.sync_mailbox(mailbox_id),
            synced=lambda: self.synced_inbox(mailbox_id),
            stop=stop,
            idle_seconds=self.idle_seconds,
            stop_poll=self.stop_poll,
            reauth_margin=self.reauth_margin,
            label=f"mailbox {mailbox_id}",
        )
        thread = threading.Thread(
            target=watcher.run, name=f"mailbox-listen-{mailbox_id}", daemon=True
        )
        self.watchers[mailbox_id] = (thread, stop)
        thread.start()

    def shutdown(self):
        self.stop.set()
        for _thread, stop in self.watchers.values():
            stop.set()
        for thread in [*(thread for thread, _stop in self.watchers.values()), *self.stopping]:
            # none may outlive the listener's cursors
            thread.join(self.stop_poll + push.imap_sync.DEFAULT_TIMEOUT)
        self.watchers.clear()
        self.stopping.clear()
        if self._claims_cr is not None and not self._claims_cr.closed:
            self._claims_cr.execute("SELECT pg_advisory_unlock_all()")
            self._claims_cr.commit()
            self._claims_cr.close()
        self._claims_cr = None

    def run(self, refresh_seconds=60):
        while not self.stop.is_set():
            try:
                watched = self.refresh()
                _logger.debug("mailbox_listen: %s mailboxes watched", len(watched))
            except Exception:
                _logger.exception("mailbox_listen: cannot read the push mailboxes")
                if not self._claims_alive():
                    self._drop_claims_connection()
            self.stop.wait(refresh_seconds)
        self.shutdown()

    def _claims_alive(self):
        try:
            self._claims_cr.execute("SELECT 1")
            self._claims_cr.commit()
        except Exception:  # noqa: BLE001 (whatever broke it, the claims went with it)
            return False
        return True

    def _drop_claims_connection(self):
        """After a database failure: the claims may be gone with their connection. Stop
        the watchers; the next refresh claims again and starts them."""
        for _thread, stop in self.watchers.values():
            stop.set()
        self.watchers.clear()
        if self._claims_cr is not None:
            try:
                self._claims_cr.close()
            except Exception:
                _logger.debug("claims connection already closed", exc_info=True)
        self._claims_cr = None


def _shard(text):
    try:
        return push.parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class MailboxListen(Command):
    """Push for CRM mailboxes: IMAP IDLE connections that import new mail within seconds"""

    name = "mailbox_listen"  # the file's name: 19 requires it

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(prog="odoo-bin mailbox_listen")
        parser.add_argument(
            "--refresh", type=int, default=60, help="seconds between looks for new push mailboxes"
        )
        parser.add_argument(
            "--shard",
            type=_shard,
            default=None,
            metavar="K/N",
            help="watch only the mailboxes whose id modulo N is K (0 <= K < N): run N "
            "listeners, on one host or several, with 0/N … N-1/N",
        )
        parser.add_argument(
            "--max-mailboxes",
            type=int,
            default=None,
            help="watch at most this many mailboxes; the others are left to other listeners",
        )
        parser.add_argument(
            "--sync-slots",
            type=int,
            default=4,
            help="mailboxes synced at once (each holds a database connection while it syncs)",
        )
        args, odoo_args = parser.parse_known_args(cmdargs)
        config.parse_config(odoo_args, setup_logging=True)
        dbname = compat.config_database()
        if not dbname:
            parser.error("a database is needed: -d DATABASE")
        registry = Registry(dbname)
        listener = MailboxListener(
            registry,
            shard=args.shard,
            max_mailboxes=args.max_mailboxes,
            sync_slots=args.sync_slots,
        )
        signal.signal(signal.SIGTERM, lambda *_a: listener.stop.set())
        signal.signal(signal.SIGINT, lambda *_a: listener.stop.set())
        _logger.info(
            "mailbox_listen: watching push mailboxes of %s%s",
            registry.db_name,
            f" (shard {args.shard[0]}/{args.shard[1]})" if args.shard else "",
        )
        listener.run(args.refresh)


compat.command_alias(MailboxListen, "mailbox-listen")  # its name before 19 (18 only)
