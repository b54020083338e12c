"""The demo's mail (``make demo``) is recent whenever the demo is made: "Why not?" looks at
the last ``WHY_NOT_DAYS`` days only, and a fixed date fell out of them after a few months."""

import unittest
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.utils import parsedate_to_datetime

from ..wizards.mailbox_why_not import WHY_NOT_DAYS
from .corpus import DEMO_DAYS_AGO, Corpus, demo_start


def demo_corpus_mails(start=None):
    """Every mail ``tools/devenv.py demo`` puts in the demo mailboxes, built in its order."""
    corpus = Corpus(domain="client.example", our_domain="mycompany.example", start=start)
    mails = corpus.demo_mails("sales@mycompany.example")
    mails.append(
        corpus.message(
            sender=("Sales", "sales@mycompany.example"),
            to=("Giulia Rossi", "giulia.rossi@client.example"),
            subject="Preventivo aggiornato",
            lang="it",
            charset="utf-8",
        )
    )
    mails += corpus.demo_more_mails("sales@mycompany.example")
    mails += corpus.demo_triage_mails("info@mycompany.example")
    return mails


def _without_dates(raw):
    return [line for line in raw.split(b"\n") if not line.startswith(b"Date: ")]


class TestDemoDates(unittest.TestCase):
    def test_demo_start_is_days_before_now_at_nine(self):
        now = datetime(2028, 5, 20, 23, 30, tzinfo=timezone.utc)
        start = demo_start(now)
        self.assertEqual(start, datetime(2028, 4, 15, 9, 0, tzinfo=timezone.utc))
        self.assertEqual((now.date() - start.date()).days, DEMO_DAYS_AGO)
        self.assertLess(DEMO_DAYS_AGO, WHY_NOT_DAYS)
        self.assertEqual(demo_start().tzinfo, timezone.utc)

    def test_demo_mail_is_recent_whenever_made(self):
        fixed_raw = demo_corpus_mails()
        fixed = [message_from_bytes(raw) for raw in fixed_raw]
        for now in (
            datetime(2027, 6, 1, 8, 0, tzinfo=timezone.utc),  # the fixed dates were gone
            datetime(2031, 1, 1, 0, 5, tzinfo=timezone.utc),
            datetime.now(timezone.utc),
        ):
            with self.subTest(now=now):
                raws = demo_corpus_mails(demo_start(now))
                mails = [message_from_bytes(raw) for raw in raws]
                dates = [parsedate_to_datetime(m["Date"]) for m in mails if m["Date"]]
                self.assertGreater(len(dates), 15)
                for date in dates:
                    self.assertLess(date, now)
                    self.assertGreater(date, now - timedelta(days=WHY_NOT_DAYS))
                # everything else as before: the same bytes but for the Date
                self.assertEqual(
                    [_without_dates(raw) for raw in raws],
                    [_without_dates(raw) for raw in fixed_raw],
                )
                shift = {
                    parsedate_to_datetime(m["Date"]) - parsedate_to_datetime(f["Date"])
                    for m, f in zip(mails, fixed, strict=True)
                    if m["Date"]
                }
                self.assertEqual(len(shift), 1, "every mail moved by the same time")
