"""The sync: the ONLY place that commits or rolls back.

Table of contents of a mailbox's sync (``sync``): lock (on a connection of its own) → link
mail deferred earlier → connect → per folder: examine, plan, search, sizes, fetch in batches
bounded by count and bytes (the next batch fetched and parsed, in a helper process, while
this one is stored) → store (``mailbox.message.store``) → link
(``mailbox.crm.linker``) → checkpoint (commit: the batch, its links and the folder's last UID
together) → link the deferred mails in a fresh transaction → retry mail in error → health
(``mailbox.health``).

The cron (``cron_sync``) gives each mailbox its own transactions: whatever one mailbox's sync
raises is rolled back, written on that mailbox, and the cron goes on with the next one.
Background jobs (re-link, private correspondents) run in bounded, committed batches.
"""

import contextlib
import logging
import time
from collections import Counter

import psycopg2.errors

from odoo import api, fields, models, sql_db
from odoo.exceptions import AccessError

from .. import compat
from ..mailflow import imap_sync, oauth, pop_sync, rules

_logger = logging.getLogger(__name__)

# pg_try_advisory_lock(namespace, mailbox id): one sync of a mailbox at a time, across
# workers and servers. "MCL" in ASCII, so that other modules' advisory locks do not collide.
LOCK_NAMESPACE = 0x4D434C
BATCH_SIZE = 100  # mails per FETCH and per commit at most
BATCH_BYTES = 32 * 1024 * 1024  # and bytes per batch at most (a larger mail goes alone)
DEFER_ROUNDS = 5  # fresh transactions tried for mail whose new address was busy
JOB_BATCH = 200  # mails per committed batch of a background job
STATUS_ATTEMPTS = 3  # transactions tried for a sync's outcome on its mailbox
RETRY_PER_SYNC = 50  # UIDs listed but not sent, asked for again per folder and sync


class MailboxSync(models.AbstractModel):
    _name = "mailbox.sync"
    _description = "Mailbox Pipeline: Synchronize (owner of transactions)"

    # -- the cron --------------------------------------------------------------------------
    @api.model
    def cron_sync(self, time_budget=240):
        """Sync every due CRM mailbox, each isolated from the others, then run background
        jobs; re-trigger itself when the time budget runs out so that a long initial import
        never holds a cron worker for hours."""
        self._check_system()
        deadline = time.monotonic() + time_budget
        due = self._due_mailbox_ids()
        self.env.cr.commit()  # nothing pending: each mailbox starts its own transaction  # pylint: disable=invalid-commit
        cron = self.env.ref("mail_crm_link.ir_cron_mailbox_sync")
        for done, mailbox_id in enumerate(due):
            result = self.sync_isolated(self.env["fetchmail.server"].browse(mailbox_id), deadline)
            compat.cron_progress(self.env, done=done + 1, remaining=len(due) - done - 1)
            if result.get("partial") or time.monotonic() > deadline:
                cron._trigger()
                return
        if self.run_jobs(deadline):
            cron._trigger()

    @api.model
    def _check_system(self):
        """The sync commits and logs in with the mailboxes' secrets: only the cron, the
        listener, scripts (superuser) and administrators may start it, never a plain RPC."""
        if not (self.env.su or self.env.is_system()):
            raise AccessError(self.env._("Only administrators can synchronize mailboxes."))

    @api.model
    def _due_mailbox_ids(self):
        now = fields.Datetime.now()
        return (
            self.env["fetchmail.server"]
            .search(
                [
                    ("crm_link_mode", "!=", "off"),
                    ("state", "=", "done"),
                    ("server_type", "in", ("pop", *oauth.IMAP_TYPES)),
                    "|",
                    ("next_sync_at", "=", False),
                    ("next_sync_at", "<=", now),
                ],
                order="next_sync_at asc nulls first, id",
            )
            .ids
        )

    @api.model
    def sync_isolated(self, mailbox, deadline=None):
        """``sync``, and whatever escapes it is this mailbox's failure only: rolled back,
        written on the mailbox (as an internal error), committed."""
        self._check_system()  # before anything of the caller's arguments is touched
        try:
            return self.sync(mailbox, deadline=deadline)
        except Exception as exc:  # noqa: BLE001 (one mailbox never stops the others)
            self.env.cr.rollback()
            try:
                message = self._finish(
                    mailbox, lambda e=exc: self.env["mailbox.health"]._record_failure(mailbox, e)
                )
            except Exception:
                self.env.cr.rollback()
                _logger.exception("Mailbox %s: the failure could not be recorded", mailbox.id)
                message = str(exc)
            return {"error": message}

    # -- one mailbox -----------------------------------------------------------------------
    @api.model
    def sync(self, mailbox, deadline=None, batch_size=BATCH_SIZE):
        """Import new mail of ``mailbox``. Commits after every batch (mails, links and the
        folder checkpoint together), so a crash at any point resumes without loss or
        duplicate.

        Returns a dict: ``busy`` (another worker holds the mailbox), ``partial`` (time budget
        spent, more to do), ``error`` (a sentence for people) and counters.
        """
        self._check_system()  # first: a caller's argument may be anything
        mailbox.ensure_one()
        lock = self._lock(mailbox)
        if lock is None:
            return {"busy": True}
        try:
            return self._sync_locked(mailbox, deadline, batch_size)
        finally:
            self._unlock(lock, mailbox)

    @api.model
    def _sync_locked(self, mailbox, deadline, batch_size):
        stats = Counter(fetched=0, new=0, failed=0)
        try:
            self._link_deferred(mailbox)
            conn = mailbox._mcl_connect()
            try:
                if mailbox.server_type == "pop":
                    partial = self._sync_pop(mailbox, conn, stats, deadline, batch_size)
                else:
                    partial = self._sync_imap(mailbox, conn, stats, deadline, batch_size)
            finally:
                mailbox._mcl_disconnect(conn)
            self._retry_errors(mailbox)
        except Exception as exc:  # noqa: BLE001 (the mailbox says why; the last checkpoint holds)
            self.env.cr.rollback()  # back to the last checkpoint: nothing half-stored
            message = self._finish(
                mailbox, lambda e=exc: self.env["mailbox.health"]._record_failure(mailbox, e)
            )
            return {"error": message, **stats}
        self._finish(mailbox, lambda: self.env["mailbox.health"]._record_success(mailbox))
        return {"partial": partial, **stats}

    @api.model
    def _finish(self, mailbox, record):
        """Commit the sync's outcome on the mailbox (``record()``), in a fresh transaction
        when someone saved the mailbox meanwhile: under REPEATABLE READ our write of its row
        then fails to serialize, and committing the aborted transaction would silently lose
        the outcome. Returns what ``record()`` returned."""
        for attempt in range(1, STATUS_ATTEMPTS + 1):
            try:
                result = record()
                self.env.flush_all()
                self.env.cr.commit()  # the outcome is visible, whatever the caller does next  # pylint: disable=invalid-commit
                return result
            except psycopg2.errors.SerializationFailure:
                self.env.cr.rollback()
                if attempt == STATUS_ATTEMPTS:
                    raise
                time.sleep(0.1 * attempt)

    @api.model
    def _sync_imap(self, mailbox, conn, stats, deadline, batch_size):
        if not mailbox.folder_ids:
            mailbox._mcl_detect_folders(conn)
        for folder in mailbox.folder_ids.filtered(lambda f: f.sync and f.role != "spam"):
            status = imap_sync.examine(conn, folder.name)
            plan = imap_sync.plan_folder(
                folder.uidvalidity,
                folder.last_uid,
                status,
                mailbox._mcl_window_since(),
                folder.import_since,
            )
            if plan.reset:
                folder.write(
                    {
                        "uidvalidity": status.uidvalidity,
                        "last_uid": 0,
                        "import_done": 0,
                        "import_total": 0,
                        "import_since": plan.since,
                        "retry_uids": False,  # UIDs of the old numbering
                    }
                )
            if folder.server_count != status.messages:
                folder.server_count = status.messages
            uids = self._cross_checked_uids(conn, folder, status, plan)
            unsent = set()  # listed, asked twice, not sent (issue 24)
            said = self._unsent_warning(folder)  # a sync stopped by its deadline keeps it
            if said:
                self._add_warning(folder, said, log=False)
            if plan.reset:
                folder.import_total = len(uids)
            batches = (
                (batch, sizes)
                for chunk in rules.chunks(uids, batch_size)
                for sizes in [imap_sync.fetch_sizes(conn, chunk)]
                for batch in rules.split_by_budget(chunk, sizes, batch_size, BATCH_BYTES)
            )
            # a large sync fetches batch N+1 and has it parsed in a helper process while it
            # stores batch N; past the deadline the batch fetched ahead is left for later
            with self.env["mailbox.message.store"]._parser(len(uids)) as parser:
                pending = None
                while True:
                    try:
                        batch, sizes = next(batches, (None, None))
                        fetched = (
                            self._checked_fetch(conn, folder, status, batch, sizes, unsent)
                            if batch
                            else None
                        )
                    except Exception:
                        if pending:  # what was fetched before the failure is stored first
                            self._store_imap_batch(
                                mailbox, folder, status, pending, parser, stats, None, unsent
                            )
                        raise
                    if fetched is None:
                        break
                    ahead = (batch, fetched, parser.submit([(r, d) for _u, r, d in fetched]))
                    if pending and self._store_imap_batch(
                        mailbox, folder, status, pending, parser, stats, deadline, unsent
                    ):
                        return True
                    pending = ahead
                    if not parser.ahead:  # parsed here: nothing is gained by waiting
                        pending = None
                        if self._store_imap_batch(
                            mailbox, folder, status, ahead, parser, stats, deadline, unsent
                        ):
                            return True
                if pending and self._store_imap_batch(
                    mailbox, folder, status, pending, parser, stats, deadline, unsent
                ):
                    return True
            # UIDs below UIDNEXT that were not fetched are outside the import window: done
            if status.uidnext and status.uidnext - 1 > folder.last_uid:
                folder.last_uid = status.uidnext - 1
            self._note_unsent(folder, said)
            folder.write({"import_since": False, "import_done": folder.import_total})
            self.env.cr.commit()  # checkpoint: the folder is complete  # pylint: disable=invalid-commit
        return False

    @api.model
    def _cross_checked_uids(self, conn, folder, status, plan):
        """The UIDs to fetch: the server's SEARCH, checked against what the server itself
        counts (EXISTS, UIDNEXT) and, when it may have missed mail, against a listing by
        FETCH; what either finds is fetched (the store never stores a mail twice). A
        contradiction is said on the folder, never passed over (issue 24)."""
        uids = imap_sync.search_uids(conn, plan)
        warning = False
        if rules.listing_suspect(len(uids), status.messages, status.uidnext, plan.first_uid):
            by_fetch = imap_sync.uids_by_fetch(conn, plan)
            if status.uidnext:  # mail that arrived since EXAMINE is the next sync's
                by_fetch = [uid for uid in by_fetch if uid < status.uidnext]
            missed = set(by_fetch) - set(uids)
            if missed:
                warning = self.env._(
                    "The server says %(folder)s holds %(count)s mails, but its search listed "
                    "%(listed)s where a listing by FETCH found %(found)s: mail_crm_link used "
                    "the listing by FETCH.",
                    folder=folder.label or folder.name,
                    count=status.messages,
                    listed=len(uids),
                    found=len(by_fetch),
                )
                uids = sorted(set(uids) | missed)
            elif plan.reset and not plan.since and len(uids) < status.messages:
                warning = self.env._(
                    "The server says %(folder)s holds %(count)s mails, but lists only "
                    "%(listed)s of them (by SEARCH and by FETCH): the others could not be "
                    "imported.",
                    folder=folder.label or folder.name,
                    count=status.messages,
                    listed=len(uids),
                )
        if warning:
            _logger.warning(
                "Mailbox %s (id %s): %s", folder.mailbox_id.name, folder.mailbox_id.id, warning
            )
        if (folder.sync_warning or False) != warning:
            folder.sync_warning = warning
        # what an earlier sync was listed but not sent: asked for again
        kept = rules.parse_uid_list(folder.retry_uids)
        retry = [uid for uid in kept if not status.uidnext or uid < status.uidnext]
        if retry != kept:  # at or above UIDNEXT: no such mail, nor ever was
            folder.retry_uids = rules.format_uid_list(retry)
        # asked for after the new mail, and a bounded number per sync: mail a server holds
        # back never keeps new mail from being fetched
        listed = set(uids)
        return uids + [uid for uid in retry if uid not in listed][:RETRY_PER_SYNC]

    @api.model
    def _checked_fetch(self, conn, folder, status, batch, sizes, unsent):
        """One batch fetched and checked against what was asked (issue 24): a mail the
        answer left out, or whose content is shorter than the RFC822.SIZE the server
        announced, is asked for again on its own, and the longer answer is kept. What is
        still not sent is added to ``unsent`` if the server still holds it (a mail deleted
        since the listing is not owed); a content still much shorter is stored as sent and
        said on the folder. The UIDs of other answers are dropped by ``fetch_batch``."""
        fetched = imap_sync.fetch_batch(conn, batch, status.uidvalidity, folder.name)
        by_uid = {uid: (raw, date) for uid, raw, date in fetched}
        missing, short = rules.fetch_shortfall(
            batch, {uid: len(raw) for uid, (raw, _d) in by_uid.items()}, sizes
        )
        if not missing and not short:
            return fetched
        for uid in missing + short:
            for again, raw, date in imap_sync.fetch_batch(
                conn, [uid], status.uidvalidity, folder.name
            ):
                if again not in by_uid or len(raw) > len(by_uid[again][0]):
                    by_uid[again] = (raw, date)
        still_missing = [uid for uid in missing if uid not in by_uid]
        unsent.update(imap_sync.existing_uids(conn, still_missing))
        cut = [uid for uid in short if rules.much_shorter(len(by_uid[uid][0]), sizes[uid])]
        if cut:
            self._add_warning(
                folder,
                self.env._(
                    "The server sent %(count)s mails of %(folder)s shorter than the size it "
                    "announced (UIDs %(uids)s), also when asked again: they were stored as "
                    "sent and may lack their end.",
                    count=len(cut),
                    folder=folder.label or folder.name,
                    uids=", ".join(map(str, cut)),
                ),
            )
        return [(uid, *by_uid[uid]) for uid in sorted(by_uid)]

    @api.model
    def _unsent_warning(self, folder):
        """What the folder says of the mail the server listed but did not send (kept in
        ``retry_uids`` by ``_store_imap_batch``), or False."""
        uids = rules.parse_uid_list(folder.retry_uids)
        if not uids:
            return False
        shown = ", ".join(map(str, uids[:20])) + (" …" if len(uids) > 20 else "")
        return self.env._(
            "The server listed %(count)s mails of %(folder)s but did not send them when "
            "asked, twice (UIDs %(uids)s): they are asked for again at each sync.",
            count=len(uids),
            folder=folder.label or folder.name,
            uids=shown,
        )

    @api.model
    def _note_unsent(self, folder, said):
        """At the end of a folder's sync: its warning of mail not sent, brought up to date
        (``said``: the one shown since the start)."""
        now = self._unsent_warning(folder)
        if now == said:
            return
        lines = [w for w in (folder.sync_warning or "").split("\n") if w and w != said]
        folder.sync_warning = "\n".join(lines) or False
        if now:
            self._add_warning(folder, now)

    @api.model
    def _add_warning(self, folder, warning, log=True):
        if log:
            _logger.warning(
                "Mailbox %s (id %s): %s", folder.mailbox_id.name, folder.mailbox_id.id, warning
            )
        if warning not in (folder.sync_warning or ""):
            folder.sync_warning = "\n".join(filter(None, [folder.sync_warning, warning]))

    @api.model
    def _store_imap_batch(
        self, mailbox, folder, status, pending, parser, stats, deadline, unsent=()
    ):
        """Store, link and checkpoint one fetched batch; True when the deadline is past.
        The UIDs of the batch the server holds but did not send (``unsent``) are kept on
        the folder, in the same checkpoint, to be asked for again."""
        batch, fetched, ticket = pending
        retry = set(rules.parse_uid_list(folder.retry_uids)) - set(batch)
        retry |= (set(batch) - {uid for uid, _r, _d in fetched}) & set(unsent)
        if set(rules.parse_uid_list(folder.retry_uids)) != retry:
            folder.retry_uids = rules.format_uid_list(retry)
        items = [
            ({"imap_uid": uid, "uidvalidity": status.uidvalidity}, raw, date)
            for uid, raw, date in fetched
        ]
        history = folder.import_done < folder.import_total  # initial import
        deferred = self._store_and_link(
            mailbox, folder, items, stats, history, parsed=parser.result(ticket)
        )
        done, _total = rules.progress(folder.import_done + len(batch), folder.import_total)
        # max: a batch of UIDs asked for again (below the checkpoint) never moves it back
        folder.write({"last_uid": max(*batch, folder.last_uid), "import_done": done})
        self._checkpoint(mailbox, deferred)
        return bool(deadline and time.monotonic() > deadline)

    @api.model
    def _check_pop_counts(self, folder, stat_count, uidl_count, list_count):
        """A POP3 server's own counts (STAT, UIDL, LIST) checked against each other (issue
        24): mail the server counts but does not list by UIDL cannot be imported without an
        id to keep it once; that is said on the mailbox, never passed over."""
        if folder.server_count != stat_count:
            folder.server_count = stat_count
        warning = False
        if rules.pop_counts_disagree(stat_count, uidl_count, list_count):
            warning = self.env._(
                "The POP3 server says it holds %(stat)s mails (STAT), but lists %(uidl)s with "
                "their ids (UIDL) and %(list)s with their sizes (LIST): mail it does not list "
                "by UIDL is not imported until it does.",
                stat=stat_count,
                uidl=uidl_count,
                list=list_count,
            )
            _logger.warning(
                "Mailbox %s (id %s): %s", folder.mailbox_id.name, folder.mailbox_id.id, warning
            )
        if (folder.sync_warning or False) != warning:
            folder.sync_warning = warning

    @api.model
    def _sync_pop(self, mailbox, conn, stats, deadline, batch_size):
        """POP3: every UIDL not stored yet is fetched; the first sync imports the window only
        (by the Date header, read with TOP n 0) and as history, like IMAP's initial import."""
        folder = mailbox._mcl_pop_folder()
        stored, skipped = self._pop_known_uidls(mailbox)
        listing = pop_sync.list_uidls(conn)
        to_fetch, _none = pop_sync.plan(listing, stored | skipped, False)
        # only what is stored may be deleted: mail outside the window stays on the server
        _all, to_delete = pop_sync.plan(listing, stored, mailbox.pop_delete)
        # compared before anything is marked deleted: STAT and LIST leave such mail out
        sizes = pop_sync.list_sizes(conn)
        self._check_pop_counts(folder, conn.stat()[0], len(listing), len(sizes))
        for num in to_delete:  # stored by an earlier sync that stopped before deleting
            conn.dele(num)
        if not folder.uidvalidity:  # the first listing of this POP3 mailbox: plan the import
            folder.write(
                {
                    "uidvalidity": 1,
                    "import_since": mailbox._mcl_window_since(),
                    "import_total": len(to_fetch),
                    "import_done": 0,
                }
            )
        for chunk in rules.chunks(to_fetch, batch_size):
            numbers = [num for num, _uidl in chunk]
            uidl_of = dict(chunk)
            for batch in rules.split_by_budget(numbers, sizes, batch_size, BATCH_BYTES):
                history = folder.import_done < folder.import_total
                items, skipped = [], []
                for num in batch:
                    if history and folder.import_since:
                        date = pop_sync.header_date(pop_sync.headers(conn, num))
                        if rules.outside_window(date, folder.import_since):
                            skipped.append(uidl_of[num])
                            continue
                    items.append(({"pop_uidl": uidl_of[num]}, pop_sync.retrieve(conn, num), None))
                self._pop_skip(mailbox, skipped)
                deferred = self._store_and_link(mailbox, folder, items, stats, history)
                done, _total = rules.progress(folder.import_done + len(batch), folder.import_total)
                folder.import_done = done
                self._checkpoint(mailbox, deferred)  # stored before anything is deleted
                if mailbox.pop_delete:
                    for num in batch:
                        if uidl_of[num] not in skipped:
                            conn.dele(num)  # takes effect at QUIT, after our commit
                if deadline and time.monotonic() > deadline:
                    return True
        folder.write({"import_since": False, "import_done": folder.import_total})
        return False

    @api.model
    def _pop_known_uidls(self, mailbox):
        """(UIDLs stored, UIDLs skipped as outside the import window)."""
        self.env.cr.execute(
            "SELECT pop_uidl FROM mailbox_message WHERE mailbox_id = %s AND pop_uidl IS NOT NULL",
            [mailbox.id],
        )
        stored = {row[0] for row in self.env.cr.fetchall()}
        self.env.cr.execute("SELECT uidl FROM mailbox_pop_skip WHERE mailbox_id = %s", [mailbox.id])
        return stored, {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _pop_skip(self, mailbox, uidls):
        """UIDLs outside the import window: never fetched again (and never deleted)."""
        if uidls:
            self.env["mailbox.pop.skip"].create(
                [{"mailbox_id": mailbox.id, "uidl": uidl} for uidl in uidls]
            )

    # -- steps -----------------------------------------------------------------------------
    @api.model
    def _store_and_link(self, mailbox, folder, items, stats, history, parsed=None):
        records = self.env["mailbox.message.store"]._store_batch(
            mailbox, folder, items, history=history, parsed=parsed
        )
        stats["fetched"] += len(items)
        stats["new"] += len(records)
        stats["failed"] += len(records.filtered(lambda m: m.state == "error"))
        return self.env["mailbox.crm.linker"]._link_safely(records)

    @api.model
    def _checkpoint(self, mailbox, deferred):
        self.env.cr.commit()  # checkpoint: the batch, its links and the folder's last UID  # pylint: disable=invalid-commit
        if deferred:
            self._link_deferred(mailbox, deferred)

    @api.model
    def _link_deferred(self, mailbox, messages=None):
        """Link mail whose new address another transaction was creating, each time in a
        fresh transaction (whose snapshot sees what the other one committed). What is
        still busy after a few rounds waits for the next sync."""
        Message = self.env["mailbox.message"]
        if messages is None:
            messages = Message.search(
                [("mailbox_id", "=", mailbox.id), ("link_deferred", "=", True)]
            )
        for attempt in range(DEFER_ROUNDS):
            if not messages:
                return
            time.sleep(0.05 * attempt)
            messages = self.env["mailbox.crm.linker"]._link_safely(messages.exists())
            self.env.cr.commit()  # a fresh snapshot for the next round  # pylint: disable=invalid-commit

    @api.model
    def _retry_errors(self, mailbox):
        """Mail in error read again (at most a few times); the recovered is linked at once."""
        recovered = self.env["mailbox.message.store"]._retry_errors(mailbox)
        if recovered:
            self._checkpoint(mailbox, self.env["mailbox.crm.linker"]._link_safely(recovered))

    # -- background jobs -------------------------------------------------------------------
    @api.model
    def run_jobs(self, deadline=None):
        """Pending re-link and privacy jobs, in committed batches of JOB_BATCH mails, each
        under its mailbox's lock (never at the same time as that mailbox's sync). Returns
        True when work is left for the next run."""
        self._check_system()
        for job in self.env["mailbox.sync.job"].search([("state", "=", "pending")]):
            lock = self._lock(job.mailbox_id)
            if lock is None:
                continue  # the mailbox is syncing: next time
            try:
                while True:
                    batch = job._next_batch(JOB_BATCH)
                    if not batch:
                        job.state = "done"
                        self.env.cr.commit()  # the job is complete  # pylint: disable=invalid-commit
                        break
                    try:
                        with self.env.cr.savepoint():
                            job._apply(batch)
                    except Exception:
                        _logger.exception("mailbox job %s failed on %s; skipped", job.id, batch)
                        job.last_message_id = batch[-1].id
                    self.env.cr.commit()  # checkpoint: this batch and the job's cursor  # pylint: disable=invalid-commit
                    if deadline and time.monotonic() > deadline:
                        return True
            finally:
                self._unlock(lock, job.mailbox_id)
        return False

    # -- the mailbox lock ------------------------------------------------------------------
    @api.model
    def _lock(self, mailbox):
        """A session-level advisory lock held on a connection of its own: it survives the
        per-batch commits (a row lock would not), it is released whatever state the sync's
        transaction is in, and PostgreSQL drops it if the worker dies."""
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, mailbox.id])
            locked = cr.fetchone()[0]
            cr.commit()  # the lock is the session's: no transaction stays open  # pylint: disable=invalid-commit
        except Exception:
            cr.close()
            raise
        if not locked:
            cr.close()
            return None
        return cr

    @api.model
    def _unlock(self, cr, mailbox):
        try:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, mailbox.id])
            cr.commit()  # the lock's own connection  # pylint: disable=invalid-commit
        except Exception:
            _logger.exception("Mailbox %s: unlock failed; closing its connection", mailbox.id)
            with contextlib.suppress(Exception):
                cr._cnx.close()  # the session ends, and its lock with it
        finally:
            with contextlib.suppress(Exception):
                cr.close()
