"""A sync that checks itself (issue 24): a server whose search answers wrongly never means
"nothing new". The server is the real Dovecot behind ``lying_imap.LyingImap``, which rewrites
only the SEARCH answers."""

import unittest

from odoo.tests import tagged

from ..mailflow import rules
from .common import MailCrmLinkCommon
from .lying_imap import LyingImap, empty_search, half_search


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
    def lying_mailbox(self, count, lie):
        login = self.make_mail_user()
        self.dovecot.append_many(
            login, [self.corpus.message(subject=f"Ordine {i}") for i in range(count)]
        )
        proxy = LyingImap(self.dovecot.host, self.dovecot.port_imap, lie=lie)
        self.addCleanup(proxy.close)
        mailbox = self.make_mailbox(login, import_window="all", port=proxy.port)
        return login, proxy, mailbox

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
