"""A sync that checks itself (issue 24): a server whose search answers wrongly never means
"nothing new", and a FETCH that answers short of what was asked never loses a mail. The
server is the real Dovecot behind ``lying_imap.LyingImap``, which rewrites only the answers
each test names."""

import unittest

from odoo.tests import tagged

from ..mailflow import rules
from .common import MailCrmLinkCommon
from .lying_imap import (
    LyingImap,
    LyingPop,
    cut_connection,
    cut_literal,
    drop_fetch,
    empty_search,
    half_search,
    no_exists,
    relabel_fetch,
    renumber,
    shuffle_fetch,
    uidl_drops,
)


class TestFetchShortfall(unittest.TestCase):
    """The pure rules of a FETCH answer's check."""

    def test_missing_and_short(self):
        self.assertEqual(rules.fetch_shortfall([1, 2, 3], {1: 10, 3: 4}, {1: 10, 3: 9}), ([2], [3]))
        self.assertEqual(rules.fetch_shortfall([1], {1: 12}, {1: 10}), ([], []))  # longer: fine
        self.assertEqual(rules.fetch_shortfall([1], {1: 5}, {}), ([], []))  # size unknown
        # Exchange announces estimated sizes: a few percent off is not asked for again
        self.assertEqual(rules.fetch_shortfall([1], {1: 9800}, {1: 10000}), ([], []))

    def test_warning_signatures_ignore_counts(self):
        one = rules.warning_signature(3, "holds 57 mails, listed 0, found 1")
        self.assertEqual(one, rules.warning_signature(3, "holds 58 mails, listed 0, found 2"))
        self.assertNotEqual(one, rules.warning_signature(4, "holds 57 mails, listed 0, found 1"))

    def test_estimated_sizes_are_not_cut_content(self):
        self.assertFalse(rules.much_shorter(9800, 10000))  # an estimate, a few percent off
        self.assertTrue(rules.much_shorter(5000, 10000))
        self.assertFalse(rules.much_shorter(5000, 0))

    def test_uid_lists(self):
        self.assertEqual(rules.parse_uid_list("7,5, x,5"), [5, 7])
        self.assertEqual(rules.parse_uid_list(False), [])
        self.assertEqual(rules.format_uid_list({7, 5}), "5,7")
        self.assertFalse(rules.format_uid_list([]))

    def test_pop_counts(self):
        self.assertFalse(rules.pop_counts_disagree(3, 3, 3))
        self.assertTrue(rules.pop_counts_disagree(3, 0, 3))
        self.assertFalse(rules.pop_counts_disagree(3, 3, None))


class TestListingSuspect(unittest.TestCase):
    """The pure rule: when is a listing worth a second one."""

    def test_fewer_than_the_server_counts(self):
        self.assertTrue(rules.listing_suspect(0, 30, 31, 1))  # first sync, search empty
        self.assertTrue(rules.listing_suspect(15, 30, 31, 1))  # half of them
        self.assertTrue(rules.listing_suspect(0, 35, 36, 31))  # five new, none listed

    def test_agreeing_listings_ask_nothing_more(self):
        self.assertFalse(rules.listing_suspect(30, 30, 31, 1))
        self.assertFalse(rules.listing_suspect(0, 30, 31, 31))  # nothing new: UIDNEXT says so
        self.assertFalse(rules.listing_suspect(0, 0, 1, 1))  # an empty folder
        self.assertFalse(rules.listing_suspect(5, 30, 36, 31))  # the five new ones


@tagged("post_install", "-at_install")
class TestLyingServer(MailCrmLinkCommon):
    def lying_mailbox(self, count, lie=None, response_lie=None):
        login = self.make_mail_user()
        self.raws = [self.corpus.message(subject=f"Ordine {i}") for i in range(count)]
        self.dovecot.append_many(login, self.raws)
        proxy = LyingImap(
            self.dovecot.host, self.dovecot.port_imap, lie=lie, response_lie=response_lie
        )
        self.addCleanup(proxy.close)
        mailbox = self.make_mailbox(login, import_window="all", port=proxy.port)
        return login, proxy, mailbox

    def warnings_told(self, mailbox):
        return self.env["mail.message"].search(
            [
                ("model", "=", "fetchmail.server"),
                ("res_id", "=", mailbox.id),
                ("subject", "like", "the server answered wrongly"),
            ]
        )

    def assertAllOnce(self, mailbox, count):
        stored = self.stored(mailbox)
        self.assertEqual(len(stored), count, "every mail the server holds, once")
        self.assertEqual(sorted(stored.mapped("imap_uid")), list(range(1, count + 1)))

    def inbox(self, mailbox):
        return mailbox.folder_ids.filtered(lambda f: f.role == "inbox")

    def test_an_empty_search_is_not_nothing_new(self):
        login, proxy, mailbox = self.lying_mailbox(30, empty_search)
        result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertGreater(proxy.lies_told, 0)
        self.assertEqual(len(self.stored(mailbox)), 30, "every mail the server holds")
        warning = self.inbox(mailbox).sync_warning
        self.assertIn("30", warning)
        self.assertIn("FETCH", warning)
        self.assertIn(warning, mailbox.sync_warning)  # shown on the mailbox
        # the next syncs: nothing twice, and new mail still found through the lie
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(len(self.stored(mailbox)), 30)
        self.dovecot.append_many(
            login, [self.corpus.message(subject=f"Nuovo {i}") for i in range(5)]
        )
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(len(self.stored(mailbox)), 35)
        self.assertEqual(len(set(self.stored(mailbox).mapped("imap_uid"))), 35)
        self.assertIn("FETCH", self.inbox(mailbox).sync_warning)

    def test_a_partial_search_is_completed(self):
        _login, _proxy, mailbox = self.lying_mailbox(10, half_search)
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(len(self.stored(mailbox)), 10)
        self.assertIn("FETCH", self.inbox(mailbox).sync_warning)

    def test_a_truthful_server_gets_no_warning(self):
        _login, proxy, mailbox = self.lying_mailbox(10, None)
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(len(self.stored(mailbox)), 10)
        self.assertEqual(proxy.lies_told, 0)
        self.assertFalse(mailbox.sync_warning)

    def test_a_folder_whose_count_is_not_said_is_counted_by_status(self):
        _login, _proxy, mailbox = self.lying_mailbox(
            8, lie=lambda line: empty_search(no_exists(line))
        )
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertAllOnce(mailbox, 8)
        self.assertEqual(self.inbox(mailbox).server_count, 8)
        self.assertIn("FETCH", self.inbox(mailbox).sync_warning)

    def test_shuffled_answers_are_stored_under_their_own_uids(self):
        _login, proxy, mailbox = self.lying_mailbox(6, response_lie=shuffle_fetch())
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertGreater(proxy.lies_told, 0)
        self.assertAllOnce(mailbox, 6)
        for uid in range(1, 7):
            self.assertEqual(self.stored(mailbox, imap_uid=uid).subject, f"Ordine {uid - 1}")
        self.assertFalse(mailbox.sync_warning)

    # -- FETCH answers short of what was asked ------------------------------------------------
    def test_a_mail_left_out_of_a_fetch_is_asked_for_again(self):
        _login, proxy, mailbox = self.lying_mailbox(10, response_lie=drop_fetch({4}, times=1))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(proxy.lies_told, 1)
        self.assertAllOnce(mailbox, 10)
        self.assertFalse(self.inbox(mailbox).retry_uids)
        self.assertFalse(mailbox.sync_warning, "asked again, it came: nothing to say")

    def test_a_mail_never_sent_is_said_and_asked_for_at_each_sync(self):
        _login, proxy, mailbox = self.lying_mailbox(10, response_lie=drop_fetch({4}))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(len(self.stored(mailbox)), 9)
        inbox = self.inbox(mailbox)
        self.assertEqual(inbox.retry_uids, "4")
        self.assertIn("did not send", inbox.sync_warning)
        self.assertIn("4", inbox.sync_warning)
        self.assertIn(inbox.sync_warning, mailbox.sync_warning)
        self.assertEqual(inbox.last_uid, 10, "the others are not held back")
        self.assertEqual(mailbox.mcl_status, "warning")
        self.assertEqual(len(self.warnings_told(mailbox)), 1, "owner and admins are told")
        self.assertFalse(self.sync(mailbox).get("error"))  # still not sent: still said
        self.assertEqual(self.inbox(mailbox).retry_uids, "4")
        self.assertEqual(len(self.warnings_told(mailbox)), 1, "once per new warning")
        proxy.response_lie = None  # the server mends
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertAllOnce(mailbox, 10)
        self.assertFalse(self.inbox(mailbox).retry_uids)
        self.assertFalse(mailbox.sync_warning)

    def test_a_mail_deleted_since_the_listing_is_not_owed(self):
        login, _proxy, mailbox = self.lying_mailbox(3)
        self.sync(mailbox)
        self.assertAllOnce(mailbox, 3)
        inbox = self.inbox(mailbox)
        inbox.retry_uids = "2,99"  # 99: never on the server; 2: stored already
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertFalse(self.inbox(mailbox).retry_uids)
        self.assertFalse(mailbox.sync_warning)
        self.assertAllOnce(mailbox, 3)
        self.assertTrue(login)

    def test_a_cut_literal_is_read_again(self):
        _login, proxy, mailbox = self.lying_mailbox(6, response_lie=cut_literal({3}, times=1))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(proxy.lies_told, 1)
        self.assertAllOnce(mailbox, 6)
        third = self.stored(mailbox, imap_uid=3)
        self.assertGreaterEqual(third.size, len(self.raws[2]), "the whole mail, not half")
        self.assertFalse(mailbox.sync_warning)

    def test_a_literal_always_cut_is_stored_and_said(self):
        _login, _proxy, mailbox = self.lying_mailbox(6, response_lie=cut_literal({3}))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertAllOnce(mailbox, 6)
        self.assertIn("shorter", self.inbox(mailbox).sync_warning)
        self.assertIn("3", self.inbox(mailbox).sync_warning)

    def test_an_answer_for_another_uid_is_not_stored_under_it(self):
        _login, proxy, mailbox = self.lying_mailbox(5, response_lie=relabel_fetch(2, 4, times=1))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(proxy.lies_told, 1)
        self.assertAllOnce(mailbox, 5)
        for uid in range(1, 6):
            self.assertEqual(self.stored(mailbox, imap_uid=uid).subject, f"Ordine {uid - 1}")

    def test_an_answer_for_a_uid_never_asked_is_dropped(self):
        _login, proxy, mailbox = self.lying_mailbox(5, response_lie=relabel_fetch(2, 99, times=1))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(proxy.lies_told, 1)
        self.assertAllOnce(mailbox, 5)
        self.assertFalse(self.stored(mailbox, imap_uid=99))

    def test_a_deadline_stop_keeps_the_warning_of_mail_not_sent(self):
        _login, _proxy, mailbox = self.lying_mailbox(6, response_lie=drop_fetch({1}))
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(self.inbox(mailbox).retry_uids, "1")
        told = len(self.warnings_told(mailbox))
        self.sync(mailbox, deadline=0.0001, batch_size=1)  # stops after its first batch
        self.assertIn("did not send", self.inbox(mailbox).sync_warning)
        self.assertEqual(len(self.warnings_told(mailbox)), told, "nothing new to tell")

    def test_a_folder_renumbered_mid_sync_stores_nothing_under_new_numbers(self):
        _login, proxy, mailbox = self.lying_mailbox(6, response_lie=renumber(4242, after=3))
        result = self.sync(mailbox, batch_size=2)
        self.assertIn("renumbered", result.get("error") or "")
        self.assertIn("UIDVALIDITY", mailbox.last_error)
        stored = len(self.stored(mailbox))
        self.assertLess(stored, 6)
        proxy.response_lie = None
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertAllOnce(mailbox, 6)

    def test_a_connection_cut_mid_literal_resumes_without_duplicates(self):
        _login, proxy, mailbox = self.lying_mailbox(6, response_lie=cut_connection(after=3))
        result = self.sync(mailbox, batch_size=2)
        self.assertTrue(result.get("error"), result)
        self.assertTrue(mailbox.last_error)
        self.assertLess(len(self.stored(mailbox)), 6)
        proxy.response_lie = None
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertAllOnce(mailbox, 6)
        self.assertFalse(mailbox.last_error)

    # -- the coverage figure -----------------------------------------------------------------
    def test_coverage_on_the_mailbox(self):
        _login, _proxy, mailbox = self.lying_mailbox(4, response_lie=drop_fetch({2}))
        self.sync(mailbox)
        inbox = self.inbox(mailbox)
        self.assertEqual((inbox.server_count, inbox.stored_count, inbox.error_count), (4, 3, 0))
        self.assertIn("4 on the server, 3 stored, 0 in error", inbox.coverage)
        self.assertIn(inbox.coverage, mailbox.mcl_coverage)
        arch = self.env["fetchmail.server"].get_view(view_type="form")["arch"]
        self.assertIn('name="mcl_coverage"', arch, "shown on the mailbox form")
        self.assertIn('name="server_count"', arch, "and per folder")

    # -- POP3 ------------------------------------------------------------------------------
    def test_pop_counts_that_disagree_are_said(self):
        login = self.make_mail_user()
        self.dovecot.append_many(login, [self.corpus.message(subject=f"P {i}") for i in range(4)])
        proxy = LyingPop(self.dovecot.host, self.dovecot.port_pop3, lie=uidl_drops(2))
        self.addCleanup(proxy.close)
        mailbox = self.make_mailbox(login, protocol="pop", port=proxy.port, import_window="all")
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertGreater(proxy.lies_told, 0)
        self.assertEqual(len(self.stored(mailbox)), 3, "what has an id is imported")
        folder = mailbox.folder_ids
        self.assertEqual(folder.server_count, 4)
        self.assertIn("UIDL", mailbox.sync_warning)
        self.assertIn("4", mailbox.sync_warning)
        proxy.lie = None
        self.assertFalse(self.sync(mailbox).get("error"))
        self.assertEqual(len(self.stored(mailbox)), 4)
        self.assertFalse(mailbox.sync_warning)
