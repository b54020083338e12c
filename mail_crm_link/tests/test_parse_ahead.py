"""Parse ahead (issue 15): a large import parses the next batch in a helper process while it
stores the previous one. The helper's answers are exactly what parsing here gives, and nothing
is lost to it: a helper that cannot start, is killed with SIGKILL, hangs or answers something
else leaves the mail to the sync, which parses it itself.

Pure tests first (a real helper process, no database), then syncs through a real Dovecot.
"""

import os
import pickle
import re
import signal
import stat
import sys
import tempfile
import time
import unittest
from datetime import datetime, timezone
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from odoo.tests import tagged
from odoo.tools import config, html_sanitize, mute_logger

from ..mailflow import imap_sync, parse, parse_ahead
from ..services import message_store
from . import realmail_corpus
from .common import MailCrmLinkCommon
from .test_parse_total import TOTAL, mail_like
from .test_realmail import TestRealWorldMailImport

FALLBACK = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)  # a mail without a readable date
SERVICES = "odoo.addons.mail_crm_link.services"
# what the store gives the helper (see MailboxMessageStore._sanitizer_spec)
SANITIZER = (
    "odoo.tools.mail",
    "html_sanitize",
    message_store.odoo_root(),
    "odoo.init" if "odoo.init" in sys.modules else "",
    *(f"{key}={value}" for key, value in message_store.SANITIZE_OPTIONS.items()),
)
OVERLAY = (  # a fake "session expired" page over the whole screen (issue 23, finding 5)
    b"From: a@client.example\r\nContent-Type: text/html\r\n\r\n"
    b'<div style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999">'
    b"Session expired: log in again</div>\r\n"
)


def batches(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


class TestParseAhead(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.real = [raw for _source, raw in realmail_corpus.load()]
        cls.helper = parse_ahead.ParseAhead()  # one for the Hypothesis examples
        cls.addClassCleanup(cls.helper.close)

    def through(self, helper, raws, size=40):
        tickets = [
            helper.submit([(raw, FALLBACK) for raw in chunk]) for chunk in batches(raws, size)
        ]
        return [mail for ticket in tickets for mail in helper.result(ticket)]

    def test_every_real_mail_reads_as_it_does_here(self):
        with parse_ahead.ParseAhead() as helper:
            answers = self.through(helper, self.real)
            self.assertTrue(helper.pid)
        self.assertEqual(len(answers), len(self.real))
        for raw, mail in zip(self.real, answers, strict=True):
            self.assertEqual(
                mail, parse.parse(raw, fallback_date=FALLBACK)
            )  # every field, warnings and flags included

    def test_html_sanitized_there_as_odoo_sanitizes_it(self):
        """Once the helper has imported Odoo's sanitizer, it fills ``html_clean`` with what
        ``html_sanitize`` gives here; before, it leaves it None (the store sanitizes)."""
        html = [raw for raw in self.real if parse.parse(raw).html]
        self.assertGreater(len(html), 50)
        # needs Odoo's patch of lxml (odoo.init on 19): the helper must have it too
        html.append(
            b"From: a@client.example\r\nContent-Type: text/html\r\n\r\n"
            b'<div style="background-image:url(data:image/png;base64,AAAA), '
            b'url(data:image/gif;base64,BBBB)">two images</div>\r\n'
        )
        html.append(OVERLAY)
        with parse_ahead.ParseAhead(sanitizer=SANITIZER) as helper:
            answers = []
            for _round in range(100):  # until the import of odoo.tools.mail is done
                answers = self.through(helper, html)
                if all(m.html_clean is not None for m in answers):
                    break
                time.sleep(0.2)
        self.assertTrue(all(m.html_clean is not None for m in answers), "never sanitized there")
        for raw, mail in zip(html, answers, strict=True):
            expected = html_sanitize(parse.parse(raw).html, **message_store.SANITIZE_OPTIONS)
            self.assertEqual(mail.html_clean, str(expected))
        self.assertNotIn("fixed", answers[-1].html_clean)  # styles too, as mail.message.body
        self.assertIn("Session expired", answers[-1].html_clean)

    @TOTAL
    @given(st.lists(st.one_of(st.binary(max_size=3000), mail_like()), min_size=1, max_size=8))
    def test_hostile_bytes_read_as_here(self, raws):
        answers = self.through(self.helper, raws, size=3)
        self.assertEqual(answers, [parse.parse(raw, fallback_date=FALLBACK) for raw in raws])

    def test_helper_killed_leaves_the_mail_to_the_caller(self):
        raws = self.real[:120]
        with parse_ahead.ParseAhead() as helper:
            first = helper.submit([(raw, FALLBACK) for raw in raws[:60]])
            os.kill(helper.pid, signal.SIGKILL)
            answers = helper.result(first)
            answers += helper.result(helper.submit([(raw, FALLBACK) for raw in raws[60:]]))
        self.assertEqual(len(answers), len(raws))
        for raw, mail in zip(raws, answers, strict=True):
            # answered before the kill, or left to the caller: never a wrong answer
            self.assertIn(mail, (None, parse.parse(raw, fallback_date=FALLBACK)))
        self.assertEqual(answers[60:], [None] * 60, "after its death nothing is waited for")

    def test_helper_that_cannot_start(self):
        with parse_ahead.ParseAhead(executable="/nonexistent/python") as helper:
            ticket = helper.submit([(raw, None) for raw in self.real[:5]])
            self.assertEqual(helper.result(ticket), [None] * 5)

    def test_no_helper_where_this_is_not_a_python_interpreter(self):
        """Odoo embedded in a WSGI server: sys.executable is that server, never started."""
        with (
            patch.object(parse_ahead.sys, "executable", "/usr/bin/uwsgi"),
            parse_ahead.ParseAhead() as helper,
        ):
            ticket = helper.submit([(raw, FALLBACK) for raw in self.real[:2]])
            self.assertIsNone(helper.pid)
            self.assertEqual(helper.result(ticket), [None] * 2)

    def test_helper_that_hangs_is_given_up(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "hangs")
            with open(script, "w", encoding="utf-8") as handle:
                handle.write("#!/bin/sh\nexec sleep 60\n")
            os.chmod(script, stat.S_IRWXU)
            big = b"Subject: big\r\n\r\n" + b"x" * 1_000_000  # far over a pipe's buffer
            with parse_ahead.ParseAhead(timeout=0.5, executable=script) as helper:
                ticket = helper.submit([(big, None)] * 3)  # returns: the helper never reads
                later = helper.submit([(big, None)])
                self.assertEqual(helper.result(ticket), [None] * 3)
                self.assertEqual(helper.result(later), [None])

    def test_an_empty_batch_is_answered_at_once(self):
        """Every UID of a batch expunged between SEARCH and FETCH: nothing to wait for, and
        the helper stays (it is not taken for a hung one)."""
        with parse_ahead.ParseAhead(timeout=30) as helper:
            self.assertEqual(helper.result(helper.submit([])), [])
            ticket = helper.submit([(self.real[0], FALLBACK)])
            self.assertEqual(
                helper.result(ticket), [parse.parse(self.real[0], fallback_date=FALLBACK)]
            )

    def test_answers_may_hold_parsed_mail_only(self):
        """What comes back from the helper cannot make this process run anything."""
        evil = pickle.dumps((0, [os.system]))
        with self.assertRaises(pickle.UnpicklingError):
            parse_ahead._AnswerUnpickler(__import__("io").BytesIO(evil)).load()

    def test_in_process_parses_nothing_ahead(self):
        with parse_ahead.InProcess() as helper:
            self.assertEqual(helper.result(helper.submit([(b"x", None)] * 4)), [None] * 4)


@tagged("post_install", "-at_install")
class TestSyncParsesAhead(MailCrmLinkCommon):
    """Syncs through a real Dovecot with the helper (from the 1st mail, small batches)."""

    COLUMNS = (
        "subject", "sender", "email_from", "email_to", "email_cc", "date", "body_html",
        "body_text", "direction", "mail_kind", "state", "parse_warnings", "conversation",
        "raw_source", "size",
    )  # fmt: skip

    def setUp(self):
        super().setUp()
        patcher = patch.object(message_store, "PARSE_AHEAD_MIN", 1)
        patcher.start()
        self.addCleanup(patcher.stop)

    def mails(self):
        real = [raw for _s, raw in realmail_corpus.load()][:40]
        mix = list(self.corpus.realistic_mix(30))
        return mix + real + [self.corpus.malformed()]

    def snapshot(self, mailbox):
        def same_file(message, value):
            # an inline image points at its mail's own stored file: by name, not by id
            if not isinstance(value, str):
                return value
            names = {str(a.id): a.name for a in message.attachment_ids}
            return re.sub(
                r"/web/image/(\d+)",
                lambda m: f"/web/image/<{names.get(m.group(1), 'not its own')}>",
                value,
            )

        return {
            m.dedup_key: (
                tuple(same_file(m, m[c]) for c in self.COLUMNS),
                tuple(sorted((a.name, a.file_size) for a in m.attachment_ids)),
            )
            for m in self.stored(mailbox)
        }

    def sync_all(self, mailbox, **kwargs):
        for _round in range(50):
            result = self.sync(mailbox, **kwargs)
            self.assertFalse(result.get("error"), result)
            if not result.get("partial"):
                return
        self.fail("the sync does not end")

    def test_same_mail_stored_with_and_without_the_helper(self):
        mails = self.mails()
        logins = [self.make_mail_user(), self.make_mail_user()]
        for login in logins:
            self.dovecot.append_many(login, mails)
        ahead, here = (self.make_mailbox(login, import_window="all") for login in logins)
        started = []
        real_start = parse_ahead.ParseAhead._start

        def start(helper):
            started.append(helper)
            return real_start(helper)

        Store = type(self.env["mailbox.message.store"])
        real_sanitize = Store._sanitize
        sanitized_there = []

        def sanitize(store, mail):
            sanitized_there.append(mail.html_clean is not None)
            return real_sanitize(store, mail)

        real_store = type(self.env["mailbox.sync"])._store_imap_batch

        def store_batch(sync, *args, **kwargs):
            if not sanitized_there:
                time.sleep(3)  # once: the helper has imported the sanitizer after that
            return real_store(sync, *args, **kwargs)

        with (
            patch.object(parse_ahead.ParseAhead, "_start", start),
            patch.object(Store, "_sanitize", sanitize),
            patch.object(type(self.env["mailbox.sync"]), "_store_imap_batch", store_batch),
        ):
            self.sync_all(ahead, batch_size=7)
            self.assertEqual(len(started), 1, "one helper for the sync")
            self.assertTrue(any(sanitized_there), "the helper sanitized HTML")
            sanitized_there.clear()
            with patch.dict(config.options, {"mail_crm_link_parse_ahead": "False"}):
                self.sync_all(here, batch_size=7)
            self.assertEqual(len(started), 1, "the setting turns it off")
            self.assertFalse(any(sanitized_there))
        stored_ahead, stored_here = self.snapshot(ahead), self.snapshot(here)
        served = TestRealWorldMailImport.served(self, logins[0])
        self.assertEqual(set(stored_ahead), {parse.parse(raw).dedup_key for raw in served})
        self.assertEqual(stored_ahead, stored_here)

    def test_helper_killed_during_a_sync_loses_and_doubles_nothing(self):
        mails = self.mails()
        login = self.make_mail_user()
        self.dovecot.append_many(login, mails)
        mailbox = self.make_mailbox(login, import_window="all")
        real_submit = parse_ahead.ParseAhead.submit
        calls = []

        def submit(helper, items):
            ticket = real_submit(helper, items)
            calls.append(ticket)
            if len(calls) == 3:
                os.kill(helper.pid, signal.SIGKILL)
            return ticket

        with patch.object(parse_ahead.ParseAhead, "submit", submit):
            self.sync_all(mailbox, batch_size=7)
        self.assertGreater(len(calls), 5)
        served = [parse.parse(raw) for raw in TestRealWorldMailImport.served(self, login)]
        keys = self.stored(mailbox).mapped("dedup_key")
        self.assertEqual(len(keys), len(set(keys)), "none stored twice")
        self.assertEqual(set(keys), {mail.dedup_key for mail in served}, "none lost")
        errors = self.stored(mailbox, state="error")
        self.assertEqual(
            set(errors.mapped("dedup_key")),
            {mail.dedup_key for mail in served if mail.error},
            "in error only what is malformed",
        )

    def test_connection_lost_while_fetching_ahead_stores_what_was_fetched(self):
        """The fetch of batch 3 fails: batches 1 and 2 (fetched, the 2nd not yet stored)
        are committed before the sync reports the failure; the next sync takes the rest."""
        login = self.make_mail_user()
        subjects = [f"Order {i}" for i in range(10)]
        self.dovecot.append_many(login, [self.corpus.message(subject=s) for s in subjects])
        mailbox = self.make_mailbox(login)
        real_fetch = imap_sync.fetch_batch
        calls = []

        def fetch_then_die(conn, uids, *args, **kwargs):
            calls.append(uids)
            if len(calls) == 3:
                raise ConnectionResetError("connection lost in the middle of a fetch")
            return real_fetch(conn, uids, *args, **kwargs)

        with patch.object(imap_sync, "fetch_batch", fetch_then_die):
            result = self.sync(mailbox, batch_size=3)
        self.assertIn("cannot be reached", result["error"])
        self.assertEqual(len(self.stored(mailbox)), 6, "both fetched batches were committed")
        self.sync_all(mailbox, batch_size=3)
        self.assertEqual(sorted(self.stored(mailbox).mapped("subject")), sorted(subjects))

    def test_our_failure_mid_sync_ends_the_helper(self):
        mails = [self.corpus.message(subject=f"Fails {i}") for i in range(20)]
        login = self.make_mail_user()
        self.dovecot.append_many(login, mails)
        mailbox = self.make_mailbox(login, import_window="all")
        helpers, batches = [], []
        real_start = parse_ahead.ParseAhead._start
        Sync = type(self.env["mailbox.sync"])
        real_store = Sync._store_imap_batch

        def start(helper):
            helpers.append(helper)
            return real_start(helper)

        def store_batch(sync, *args, **kwargs):
            batches.append(helpers[0].pid)
            if len(batches) == 2:
                raise KeyError("a bug of ours")
            return real_store(sync, *args, **kwargs)

        with (
            patch.object(parse_ahead.ParseAhead, "_start", start),
            patch.object(Sync, "_store_imap_batch", store_batch),
            mute_logger(f"{SERVICES}.mailbox_health"),
        ):
            result = self.sync(mailbox, batch_size=5)
        self.assertTrue(result.get("error"), result)
        pid = batches[0]
        with self.assertRaises(ProcessLookupError, msg="the helper is gone and reaped"):
            os.kill(pid, 0)
        self.assertEqual(len(self.stored(mailbox)), 5, "the first batch stays stored")
        self.sync_all(mailbox, batch_size=5)
        self.assertEqual(
            sorted(self.stored(mailbox).mapped("subject")), sorted(f"Fails {i}" for i in range(20))
        )

    def test_deadline_leaves_the_batch_fetched_ahead_for_the_next_sync(self):
        mails = [self.corpus.message(subject=f"Ahead {i}") for i in range(20)]
        login = self.make_mail_user()
        self.dovecot.append_many(login, mails)
        mailbox = self.make_mailbox(login, import_window="all")
        rounds = 0
        while True:
            rounds += 1
            result = self.sync(mailbox, batch_size=5, deadline=time.monotonic() - 1)
            self.assertFalse(result.get("error"), result)
            if not result.get("partial"):
                break
        self.assertGreaterEqual(rounds, 4, "one batch per sync past the deadline")
        subjects = self.stored(mailbox).mapped("subject")
        self.assertEqual(sorted(subjects), sorted(f"Ahead {i}" for i in range(20)))
