"""``odoo-bin --addons-path=PATHS mailbox-listen -c CONFIG -d DATABASE``: push (IMAP IDLE).

Runs beside Odoo's server (multi-process or not): one thread per mailbox with push on, each
holding an IDLE connection and syncing its mailbox, in a cursor of its own, when mail arrives.
The sync takes the mailbox's advisory lock, so the polling cron and this listener never sync
one mailbox at once. New or changed mailboxes are picked up every ``--refresh`` seconds.
"""

import argparse
import logging
import signal
import threading

import odoo
from odoo import SUPERUSER_ID, api
from odoo.cli import Command

from ..mailflow import push

_logger = logging.getLogger(__name__)


class MailboxListener:
    """Watcher threads for the push mailboxes of one database."""

    def __init__(self, registry, idle_seconds=push.IDLE_SECONDS):
        self.registry = registry
        self.idle_seconds = idle_seconds
        self.stop = threading.Event()
        self.watchers = {}  # mailbox id → (thread, its own stop event)

    def push_mailbox_ids(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return set(
                env["fetchmail.server"]
                .search(
                    [
                        ("push_enabled", "=", True),
                        ("crm_link_mode", "!=", "off"),
                        ("server_type", "=", "imap"),
                        ("state", "=", "done"),
                    ]
                )
                .ids
            )

    def sync_mailbox(self, mailbox_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return env["fetchmail.server"].browse(mailbox_id)._mcl_sync()

    def connect(self, mailbox_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return env["fetchmail.server"].browse(mailbox_id)._mcl_connect()

    def refresh(self):
        """Start watchers for new push mailboxes, stop those no longer pushed."""
        wanted = self.push_mailbox_ids()
        for mailbox_id in set(self.watchers) - wanted:
            _thread, stop = self.watchers.pop(mailbox_id)
            stop.set()
        for mailbox_id in wanted - set(self.watchers):
            stop = threading.Event()
            thread = threading.Thread(
                target=push.watch,
                name=f"mailbox-listen-{mailbox_id}",
                daemon=True,
                args=(
                    lambda m=mailbox_id: self.connect(m),
                    lambda m=mailbox_id: self.sync_mailbox(m),
                    stop,
                ),
                kwargs={"idle_seconds": self.idle_seconds, "label": f"mailbox {mailbox_id}"},
            )
            self.watchers[mailbox_id] = (thread, stop)
            thread.start()
        return set(self.watchers)

    def shutdown(self):
        self.stop.set()
        for _thread, stop in self.watchers.values():
            stop.set()
        for thread, _stop in self.watchers.values():
            thread.join(self.idle_seconds + 5)
        self.watchers.clear()

    def run(self, refresh_seconds=60):
        while not self.stop.is_set():
            try:
                self.refresh()
            except Exception:
                _logger.exception("mailbox-listen: cannot read the push mailboxes")
            self.stop.wait(refresh_seconds)
        self.shutdown()


class MailboxListen(Command):
    """Push for CRM mailboxes: IMAP IDLE connections that import new mail within seconds"""

    name = "mailbox-listen"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(prog="odoo-bin mailbox-listen")
        parser.add_argument(
            "--refresh", type=int, default=60, help="seconds between looks for new push mailboxes"
        )
        args, odoo_args = parser.parse_known_args(cmdargs)
        odoo.tools.config.parse_config(odoo_args)
        dbname = odoo.tools.config["db_name"]
        if not dbname:
            parser.error("a database is needed: -d DATABASE")
        registry = odoo.modules.registry.Registry(dbname.split(",")[0])
        listener = MailboxListener(registry)
        signal.signal(signal.SIGTERM, lambda *_a: listener.stop.set())
        signal.signal(signal.SIGINT, lambda *_a: listener.stop.set())
        _logger.info("mailbox-listen: watching push mailboxes of %s", registry.db_name)
        listener.run(args.refresh)
