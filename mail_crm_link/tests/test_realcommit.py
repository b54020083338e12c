"""Crashes, concurrency and cron isolation with real commits: worker OS processes on a real
database copy (``realcommit/harness.py``), real Dovecot, no savepoint emulation."""

import base64
import threading
import time
import uuid
from datetime import datetime

from .corpus import Corpus
from .realcommit.harness import CLIENT_DOMAIN, OUR_DOMAIN, RealCommitCase
from .smtp_sink import get_sink

BATCH_SIZE = 100  # the sync's default batch: it commits after each


class TestKillDuringImport(RealCommitCase):
    def test_kill_9_in_mid_import_then_resume(self):
        """Guards the per-batch checkpoint of the sync (messages, links, chatter entries and
        the folder's last UID committed together): a worker killed with SIGKILL in the
        middle of an import leaves nothing half-done, and the next sync resumes where the
        last commit stood — every mail once, every chatter entry once, one lead per sender.
        Fails if the checkpoint (or the dedup on resume) is split or lost."""
        login = self.make_mail_user()
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=11)
        self.dovecot.append_many(login, list(corpus.realistic_mix(600, senders=120)))
        total = self.dovecot.count(login)
        with self.workers(2) as pool:
            (mailbox,) = self.create_mailboxes(pool, [self.mailbox_values(login)])
            pool.begin({"w0": {"op": "sync", "mailbox_id": mailbox}})
            deadline = time.monotonic() + 240
            stored = 0
            while stored < BATCH_SIZE:  # the first batch is committed: kill it mid-import
                self.assertLess(time.monotonic(), deadline, "the first batch never committed")
                self.assertIsNone(pool.procs["w0"].poll(), pool.log_tail("w0"))
                time.sleep(0.005)
                stored = self.stored_count(mailbox)
            pool.kill("w0")
            pool.wait()
            self.assertLess(
                self.stored_count(mailbox), total, "the import ended before the worker was killed"
            )
            result = pool.run_one(
                "w1",
                {"op": "sync", "mailbox_id": mailbox, "until_done": True, "busy_wait": 60},
            )["result"]
        self.assertFalse(result.get("error") or result.get("busy"), result)
        self.assertEqual(self.stored_count(mailbox), total)
        self.assertEqual(self.duplicate_message_ids(mailbox), [])
        self.assertEqual(self.duplicate_chatter_entries(mailbox), [])
        self.assertEqual(self.duplicate_links(mailbox), [])
        self.assertEqual(self.duplicate_leads(), [])
        unlinked = self.real_db.value(
            "SELECT count(*) FROM mailbox_message WHERE mailbox_id = %s AND state = 'new'",
            [mailbox],
        )
        self.assertEqual(unlinked, 0, "mail of the killed batch was stored but never linked")


class TestTwoWorkersOneMailbox(RealCommitCase):
    def test_two_workers_sync_one_mailbox_at_once(self):
        """Guards the mailbox's sync lock: two workers started together on one mailbox
        while mail keeps arriving never store a mail twice nor skip one (one of them may
        stand aside, ``busy``), and the lock is free again afterwards for any connection —
        also while the workers live on with their pooled connections."""
        login = self.make_mail_user()
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=12)
        self.dovecot.append_many(login, list(corpus.realistic_mix(60, senders=30)))
        arriving = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=13)
        stop = threading.Event()
        errors = []

        def deliver():  # mail keeps arriving while the workers sync
            try:
                while not stop.is_set():
                    self.dovecot.append(login, arriving.message(html=False))
                    time.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 (reported by the test below)
                errors.append(exc)

        busy = 0
        with self.workers(2) as pool:
            (mailbox,) = self.create_mailboxes(pool, [self.mailbox_values(login)])
            thread = threading.Thread(target=deliver, daemon=True)
            thread.start()
            try:
                for _round in range(5):
                    step = {"op": "sync", "mailbox_id": mailbox, "batch_size": 10}
                    results = pool.run({"w0": step, "w1": step})
                    self.assert_no_exception(results)
                    for result in results.values():
                        self.assertFalse(result["result"].get("error"), result)
                        busy += bool(result["result"].get("busy"))
            finally:
                stop.set()
                thread.join()
            self.assertEqual(errors, [])
            final = pool.run_one(
                "w1", {"op": "sync", "mailbox_id": mailbox, "until_done": True, "busy_wait": 30}
            )["result"]
            self.assertFalse(final.get("error") or final.get("busy"), final)
            # the workers still run, their connections pooled: the lock must be free anyway
            self.assertEqual(self.real_db.try_mailbox_lock(), {mailbox: True})
        self.assertEqual(self.stored_count(mailbox), self.dovecot.count(login))
        self.assertEqual(self.duplicate_message_ids(mailbox), [])
        self.assertEqual(self.duplicate_chatter_entries(mailbox), [])
        self.assertEqual(self.duplicate_links(mailbox), [])
        self.assertEqual(self.duplicate_leads(), [])
        self.assertLessEqual(busy, 5)  # at most one worker per round stands aside

    def test_sync_aborted_by_a_concurrent_save_keeps_lock_and_status_sane(self):
        """Someone saves the mailbox (a user in its form view, say) while it syncs: the
        sync's own write of the mailbox row then fails with a serialization error (Odoo's
        cursors are REPEATABLE READ) and its transaction is aborted. Guards two things:

        - the mailbox's session lock is released: an unlock run inside the aborted
          transaction fails and leaves the lock on the worker's pooled connection, and every
          later sync of the mailbox, by any worker, stands aside as ``busy``;
        - the outcome of the sync is recorded (last sync time, or an error), not silently
          lost: today core's ``fetchmail.server.write`` → ``_update_cron`` →
          ``ir.cron.try_write`` swallows the serialization error inside a savepoint that was
          never opened, and the sync's final COMMIT of the aborted transaction is a silent
          ROLLBACK — the sync reports success while its status write is gone."""
        login = self.make_mail_user()
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=16)
        with self.workers(2) as pool:
            (mailbox,) = self.create_mailboxes(pool, [self.mailbox_values(login)])
            pool.run_one("w0", {"op": "sync", "mailbox_id": mailbox})  # folders found
            self.dovecot.append_many(login, [corpus.message(html=False) for _i in range(5)])
            time.sleep(1.1)  # Odoo keeps whole seconds: this sync's time differs from the last
            with self.real_db.transaction() as editor:
                editor.execute(
                    "UPDATE fetchmail_server SET write_date = now() at time zone 'UTC'"
                    " WHERE id = %s",
                    [mailbox],
                )
                pool.begin({"w0": {"op": "sync", "mailbox_id": mailbox}})
                self.assertTrue(
                    self.real_db.wait_for_lock_waiter(timeout=120),
                    "the sync never wrote its mailbox: nothing to abort",
                )
            # the editor committed: the sync's write of the row cannot be serialized
            started = datetime.fromisoformat(pool.wait()["w0"]["started"]).replace(microsecond=0)
            self.assertEqual(
                self.real_db.try_mailbox_lock(),
                {mailbox: True},
                "the mailbox lock stayed on the worker's connection",
            )
            last_sync, last_error = self.real_db.query(
                "SELECT last_sync_at, last_error FROM fetchmail_server WHERE id = %s", [mailbox]
            )[0]
            self.assertTrue(
                last_error or (last_sync and last_sync >= started),
                f"the sync's outcome was lost: last sync {last_sync}, sync started {started}",
            )
            for name in ("w0", "w1"):  # the same worker (pooled connection), and another
                result = pool.run_one(name, {"op": "sync", "mailbox_id": mailbox})["result"]
                self.assertFalse(result.get("busy") or result.get("error"), result)
        self.assertEqual(self.stored_count(mailbox), self.dovecot.count(login))


class TestSameNewSenderInTwoMailboxes(RealCommitCase):
    """One client mail, to two of our mailboxes, from an address nobody knows yet; the two
    mailboxes are synced by two workers started at the same instant, many times over."""

    ROUNDS = 12

    def _race(self, action, table):
        logins = [self.make_mail_user("a"), self.make_mail_user("b")]
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=14)
        run = uuid.uuid4().hex[:8]
        with self.workers(2) as pool:
            mailboxes = self.create_mailboxes(
                pool,
                [self.mailbox_values(login, incoming_unknown_action=action) for login in logins],
            )
            steps = {
                name: {"op": "sync", "mailbox_id": mailbox}
                for name, mailbox in zip(pool.names, mailboxes, strict=True)
            }
            self.assert_no_exception(pool.run(steps))  # folders found: the rest is live mail
            senders, duplicated = [], []
            for index in range(self.ROUNDS):
                sender = f"new.{action}.{run}.{index}@{CLIENT_DOMAIN}"
                senders.append(sender)
                raw = corpus.message(
                    sender=(f"New Client {index}", sender),
                    to=[("Sales A", logins[0])],
                    cc=[("Sales B", logins[1])],
                    html=False,
                )
                for login in logins:
                    self.dovecot.append(login, raw)
                results = pool.run(steps)
                self.assert_no_exception(results)
                for result in results.values():
                    self.assertFalse(result["result"].get("error"), result)
                count = self.real_db.value(
                    f"SELECT count(*) FROM {table} WHERE email_normalized = %s",
                    [sender],
                )
                if count != 1:
                    duplicated.append((sender, count))
            # once more each, one after the other: whatever was deferred is linked now
            for name, step in steps.items():
                pool.run_one(name, step)
        self.assertEqual(
            duplicated,
            [],
            f"{len(duplicated)} of {self.ROUNDS} rounds did not end with exactly one {table} "
            f"row for the new address",
        )
        column = "lead_id" if table == "crm_lead" else "partner_id"
        for mailbox in mailboxes:
            unlinked = self.real_db.query(
                f"""SELECT m.sender FROM mailbox_message m
                     WHERE m.mailbox_id = %s AND m.sender = ANY(%s)
                       AND NOT EXISTS (SELECT 1 FROM mailbox_message_link l
                                         JOIN {table} r ON r.id = l.{column}
                                        WHERE l.message_id = m.id
                                          AND r.email_normalized = m.sender)""",
                [mailbox, senders],
            )
            self.assertEqual(unlinked, [], "a copy of the mail is not on the sender's record")

    def test_one_lead_per_new_address_across_workers(self):
        """Guards the creation of a record for a new address across processes: with Odoo's
        REPEATABLE READ cursors, "wait for the address lock, then look again" cannot see
        the other worker's commit, so both create a lead. Exactly one lead must exist."""
        self._race("lead", "crm_lead")

    def test_one_contact_per_new_address_across_workers(self):
        """The same for a mailbox whose policy creates a contact: exactly one res.partner."""
        self._race("contact", "res_partner")


NUL_MAIL = (
    b"From: Nul Sender <nul.sender@client.example>\r\n"
    b"To: Sales <sales@mycompany.example>\r\n"
    b"Subject: Order with a NUL byte\r\n"
    b"Message-ID: <nul.1@client.example>\r\n"
    b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(b"Hello,\x00 we would like 10 units.\r\n")
)


class TestCronIsolatesMailboxes(RealCommitCase):
    """One cron run, by Odoo's own cron runner in a worker process, over three due
    mailboxes: the first one (lowest id, synced first) poisoned, two healthy ones."""

    def _cron_with_poison(self, poisoned_mail=None, inject=False):
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=15)
        poisoned, *healthy = (self.make_mail_user(label) for label in ("poisoned", "ok1", "ok2"))
        for login in (poisoned, *healthy):
            self.dovecot.append_many(login, [corpus.message(html=False) for _i in range(3)])
        if poisoned_mail:
            self.dovecot.append(poisoned, poisoned_mail)
        poison = {"fetch_error": poisoned} if inject else None
        with self.workers(1) as pool:
            ids = self.create_mailboxes(
                pool, [self.mailbox_values(login) for login in (poisoned, *healthy)]
            )
            first = pool.run_one("w0", {"op": "cron", "poison": poison})
            for mailbox, login in zip(ids[1:], healthy, strict=True):
                self.assertEqual(
                    self.stored_count(mailbox),
                    self.dovecot.count(login),
                    "a healthy mailbox was not synced because another one failed",
                )
            next_sync, last_error = self.real_db.query(
                "SELECT next_sync_at, last_error FROM fetchmail_server WHERE id = %s",
                [ids[0]],
            )[0]
            self.assertTrue(next_sync, "the failing mailbox was never rescheduled")
            self.assertGreater(next_sync, datetime.fromisoformat(first["started"]))
            self.assertEqual(first["cron_failure_count"], 0, "the cron job itself failed")
            # new mail for everyone, every mailbox due again: the cron still syncs the others
            for login in healthy:
                self.dovecot.append(login, corpus.message(html=False))
            self.real_db.query(
                "UPDATE fetchmail_server SET next_sync_at = now() at time zone 'UTC'"
                " - interval '1 minute' WHERE id = ANY(%s)",
                [ids],
            )
            second = pool.run_one("w0", {"op": "cron", "poison": poison})
        for mailbox, login in zip(ids[1:], healthy, strict=True):
            self.assertEqual(self.stored_count(mailbox), self.dovecot.count(login))
        self.assertEqual(second["cron_failure_count"], 0, "the cron job itself failed")
        return ids[0], poisoned, last_error

    def test_cron_goes_on_after_our_own_error_in_one_mailbox(self):
        """Guards the per-mailbox isolation of the cron against our own bugs: the IMAP
        transport raises ``AttributeError`` for one mailbox (injected in the worker only).
        The other mailboxes are synced, the failing one says so and is rescheduled."""
        _mailbox, _login, last_error = self._cron_with_poison(inject=True)
        self.assertTrue(last_error, "the failing mailbox shows no error")

    def test_cron_goes_on_after_a_mail_that_cannot_be_written(self):
        """Guards the per-mailbox isolation of the cron against a real poisoned mail: a
        well-formed mail whose base64 text decodes to a NUL byte, which PostgreSQL refuses
        in a text column (issue 11). Whatever its mailbox does with it, the other mailboxes
        are synced, the mailbox is rescheduled, and its mail is stored (not lost)."""
        mailbox, login, _last_error = self._cron_with_poison(poisoned_mail=NUL_MAIL)
        self.assertEqual(self.stored_count(mailbox), self.dovecot.count(login))


class TestRequestRerun(RealCommitCase):
    def wait_until_sent(self, mailbox, subject, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            states = self.real_db.value(
                "SELECT array_agg(send_state) FROM mailbox_message"
                " WHERE mailbox_id = %s AND subject = %s"
                " AND coalesce(append_state, 'done') <> 'todo'",
                [mailbox, subject],
            )
            if states and set(states) <= {"sent", "failed"}:
                return states
            time.sleep(0.2)
        self.fail(f"not sent within {timeout}s")

    def test_send_rerun_after_a_serialization_failure_sends_once(self):
        """Guards the outbox order "store, commit, then send and APPEND": Odoo re-runs a
        request whose transaction hit a serialization failure (up to 5 times,
        ``odoo.service.model.retrying``), rolling back its database work — but not what it
        already did outside: a mail sent by SMTP or APPENDed to the Sent folder before the
        commit is sent and saved once per attempt. Here a colleague saves the deal while
        "Send" runs from it: the client must receive the mail once, and the Sent folder and
        the CRM hold it once."""
        login = self.make_mail_user()
        sink = get_sink()
        client = f"client.{uuid.uuid4().hex[:8]}@{CLIENT_DOMAIN}"
        subject = f"Offer {uuid.uuid4().hex[:8]}"
        with self.workers(1) as pool:
            (server,) = self.create_records(pool, "ir.mail_server", [sink.mail_server_values()])
            (mailbox,) = self.create_mailboxes(
                pool, [self.mailbox_values(login, email_address=login, mail_server_id=server)]
            )
            pool.run_one("w0", {"op": "sync", "mailbox_id": mailbox})  # finds the Sent folder
            (deal,) = self.create_records(
                pool,
                "crm.lead",
                [{"name": "Deal", "type": "opportunity", "email_from": client}],
            )
            step = {
                "op": "compose",
                "context": {"default_res_model": "crm.lead", "default_res_id": deal},
                "values": {
                    "mailbox_id": mailbox,
                    "email_to": client,
                    "subject": subject,
                    "body": "<p>Here is the offer.</p>",
                },
                "conflict": {"table": "crm_lead", "id": deal},
            }
            with self.real_db.transaction() as colleague:
                colleague.execute(
                    "UPDATE crm_lead SET write_date = now() at time zone 'UTC' WHERE id = %s",
                    [deal],
                )
                pool.begin({"w0": step})
                self.assertTrue(
                    self.real_db.wait_for_lock_waiter(timeout=120), "the request never waited"
                )
            result = pool.wait()["w0"]
            # the mail leaves after the commit, in a thread of the worker: let it finish
            self.wait_until_sent(mailbox, subject)
        self.assertNotIn("exception", result, result.get("traceback"))
        self.assertEqual(result["attempts"], 2, "the request was not re-run: nothing shown")
        received = [m for m in sink.messages if str(m["Subject"]) == subject]
        self.assertEqual(len(received), 1, "the client received the mail once per attempt")
        self.assertEqual(self.dovecot.count(login, "Sent"), 1)
        stored = self.real_db.value(
            "SELECT count(*) FROM mailbox_message WHERE mailbox_id = %s AND subject = %s",
            [mailbox, subject],
        )
        self.assertEqual(stored, 1)
