"""Folders of the mailboxes people really have, found without configuration.

Pure tests on LIST answers as the providers give them (Gmail, Exchange / Microsoft 365, Courier,
localized clients), then end to end on local servers that imitate the layouts: Dovecots
configured with Gmail's folders and SPECIAL-USE, or Exchange's names without SPECIAL-USE, and
the Courier of the interop matrix (``INBOX.`` prefix, ``.`` separator, no SPECIAL-USE).
"""

import functools
import re
import unittest

from odoo.tests import tagged

from ..mailflow import imap_sync
from . import courier
from .common import CLIENT_DOMAIN
from .dovecot import DovecotError, DovecotServer
from .imap_server import session_server
from .interop_common import MailServerCase


def folders(*lines):
    return imap_sync.parse_list_response([line.encode() for line in lines])


def utf7(name):
    return imap_sync.utf7_encode(name)


GMAIL = folders(
    '(\\HasNoChildren) "/" "INBOX"',
    '(\\HasChildren \\Noselect) "/" "[Gmail]"',
    '(\\All \\HasNoChildren) "/" "[Gmail]/All Mail"',
    '(\\Drafts \\HasNoChildren) "/" "[Gmail]/Drafts"',
    '(\\HasNoChildren \\Important) "/" "[Gmail]/Important"',
    '(\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"',
    '(\\HasNoChildren \\Junk) "/" "[Gmail]/Spam"',
    '(\\Flagged \\HasNoChildren) "/" "[Gmail]/Starred"',
    '(\\HasNoChildren \\Trash) "/" "[Gmail]/Trash"',
    '(\\HasNoChildren) "/" "Clients"',
)

EXCHANGE = folders(  # Exchange 2016 / Microsoft 365 as Outlook creates them: no SPECIAL-USE
    '(\\HasNoChildren) "/" Archive',
    '(\\HasChildren) "/" Calendar',
    '(\\HasNoChildren) "/" "Calendar/Birthdays"',
    '(\\HasNoChildren) "/" Contacts',
    '(\\HasNoChildren) "/" "Conversation History"',
    '(\\HasNoChildren) "/" "Deleted Items"',
    '(\\HasNoChildren) "/" Drafts',
    '(\\Marked \\HasNoChildren) "/" INBOX',
    '(\\HasNoChildren) "/" Journal',
    '(\\HasNoChildren) "/" "Junk Email"',
    '(\\HasNoChildren) "/" Notes',
    '(\\HasNoChildren) "/" Outbox',
    '(\\HasNoChildren) "/" "Sent Items"',
    '(\\HasChildren) "/" "Sync Issues"',
    '(\\HasNoChildren) "/" "Sync Issues/Conflicts"',
    '(\\HasNoChildren) "/" Tasks',
)

COURIER = folders(
    '(\\Unmarked \\HasChildren) "." "INBOX"',
    '(\\HasNoChildren) "." "INBOX.Drafts"',
    '(\\HasNoChildren) "." "INBOX.Sent"',
    '(\\HasNoChildren) "." "INBOX.Spam"',
    '(\\HasNoChildren) "." "INBOX.Trash"',
    '(\\HasChildren) "." "INBOX.Clients"',
    '(\\HasNoChildren) "." "INBOX.Clients.Sent"',
)


class TestProviderLayoutsPure(unittest.TestCase):
    def assertRoles(self, found, **expected):
        roles = imap_sync.detect_roles(found)
        expected = {role: None for role in imap_sync.ROLES} | {"inbox": "INBOX"} | expected
        self.assertEqual(roles, expected)

    def test_gmail(self):
        self.assertRoles(
            GMAIL,
            sent="[Gmail]/Sent Mail",
            spam="[Gmail]/Spam",
            drafts="[Gmail]/Drafts",
            trash="[Gmail]/Trash",
            all="[Gmail]/All Mail",
        )
        self.assertFalse(GMAIL[1].selectable, "[Gmail] itself cannot be opened")

    def test_gmail_without_special_use_and_in_other_countries(self):
        """Gmail as older clients see it (no attributes), and "[Google Mail]" with "Bin" as
        German and British accounts have it: the names alone are enough."""
        plain = folders(
            '(\\HasNoChildren) "/" "INBOX"',
            '(\\HasChildren \\Noselect) "/" "[Google Mail]"',
            '(\\HasNoChildren) "/" "[Google Mail]/All Mail"',
            '(\\HasNoChildren) "/" "[Google Mail]/Bin"',
            '(\\HasNoChildren) "/" "[Google Mail]/Drafts"',
            '(\\HasNoChildren) "/" "[Google Mail]/Sent Mail"',
            '(\\HasNoChildren) "/" "[Google Mail]/Spam"',
            '(\\HasNoChildren) "/" "[Google Mail]/Starred"',
        )
        self.assertRoles(
            plain,
            sent="[Google Mail]/Sent Mail",
            spam="[Google Mail]/Spam",
            drafts="[Google Mail]/Drafts",
            trash="[Google Mail]/Bin",
            all="[Google Mail]/All Mail",
        )

    def test_gmail_in_russian(self):
        sent, spam, all_mail = utf7("Отправленные"), utf7("Спам"), utf7("Вся почта")
        self.assertRoles(
            folders(
                '(\\HasNoChildren) "/" "INBOX"',
                f'(\\All \\HasNoChildren) "/" "[Gmail]/{all_mail}"',
                f'(\\HasNoChildren \\Sent) "/" "[Gmail]/{sent}"',
                f'(\\HasNoChildren \\Junk) "/" "[Gmail]/{spam}"',
            ),
            sent=f"[Gmail]/{sent}",
            spam=f"[Gmail]/{spam}",
            all=f"[Gmail]/{all_mail}",
        )

    def test_exchange_and_microsoft_365(self):
        self.assertRoles(
            EXCHANGE,
            sent="Sent Items",
            spam="Junk Email",
            drafts="Drafts",
            trash="Deleted Items",
        )

    def test_courier_inbox_prefix(self):
        self.assertRoles(
            COURIER,
            sent="INBOX.Sent",
            spam="INBOX.Spam",
            drafts="INBOX.Drafts",
            trash="INBOX.Trash",
        )
        self.assertEqual(COURIER[2].delimiter, ".")
        self.assertEqual(COURIER[2].short_label, "Sent")
        self.assertEqual(COURIER[6].short_label, "Clients.Sent", "only the prefix is taken off")

    def test_cyrus_inbox_prefix_with_special_use(self):
        self.assertRoles(
            folders(
                '(\\HasChildren) "/" INBOX',
                '(\\HasNoChildren \\Junk) "/" INBOX/Junk',
                '(\\HasNoChildren \\Sent) "/" INBOX/Sent',
            ),
            sent="INBOX/Sent",
            spam="INBOX/Junk",
        )

    def test_localized_names(self):
        """Names as Ukrainian, Russian and Italian mail clients create them."""
        cases = [
            ("Надіслані", "Спам", "Чернетки", "Кошик"),
            ("Відправлені", "Небажана пошта", "Чернетки", "Видалені"),
            ("Отправленные", "Спам", "Черновики", "Корзина"),
            ("Отправленные письма", "Нежелательная почта", "Черновики", "Удалённые"),
            ("Posta inviata", "Posta indesiderata", "Bozze", "Cestino"),
            ("Elementi inviati", "Posta indesiderata", "Bozze", "Elementi eliminati"),
        ]
        for sent, spam, drafts, trash in cases:
            for prefix, sep in (("", "/"), ("INBOX.", ".")):
                names = [prefix + utf7(n) for n in (sent, spam, drafts, trash)]
                found = folders(
                    f'(\\HasChildren) "{sep}" INBOX',
                    *(f'(\\HasNoChildren) "{sep}" "{name}"' for name in names),
                )
                with self.subTest(sent=sent, prefix=prefix):
                    self.assertRoles(
                        found, sent=names[0], spam=names[1], drafts=names[2], trash=names[3]
                    )
                    self.assertEqual(found[1].label, prefix + sent)

    def test_special_use_wins_and_is_never_overridden_by_a_name(self):
        found = folders(
            '(\\HasNoChildren) "/" INBOX',
            '(\\HasNoChildren \\Trash) "/" "Spam"',  # odd, but the server said so
            '(\\HasNoChildren) "/" "Sent"',
            '(\\HasNoChildren \\Sent) "/" "Outgoing"',
            '(\\HasNoChildren \\All) "/" "Archive"',
        )
        self.assertRoles(found, sent="Outgoing", trash="Spam", all="Archive")

    def test_flagged_folders_keep_their_flags(self):
        by_name = {f.name: f for f in GMAIL}
        self.assertEqual(by_name["[Gmail]/All Mail"].special_use, "all")
        self.assertEqual(by_name["[Gmail]/Starred"].special_use, None, "\\Flagged is no role")
        self.assertIn("\\important", by_name["[Gmail]/Important"].flags)

    def test_delimiters(self):
        found = imap_sync.parse_list_response(
            [
                b'(\\HasNoChildren) NIL "Flat"',
                b'(\\HasNoChildren) "\\\\" "Odd\\\\Sep"',
                (b'(\\HasNoChildren) "/" {13}', b"Posta inviata"),
            ]
        )
        self.assertEqual([f.delimiter for f in found], [None, "\\", "/"])
        self.assertEqual(found[1].name, "Odd\\Sep")
        self.assertEqual(imap_sync.detect_roles(found)["sent"], "Posta inviata")


# -- end to end, on local servers laid out as the providers -------------------------------------

GMAIL_FOLDERS = {
    "[Gmail]/All Mail": "\\All",
    "[Gmail]/Drafts": "\\Drafts",
    "[Gmail]/Important": "\\Important",
    "[Gmail]/Sent Mail": "\\Sent",
    "[Gmail]/Spam": "\\Junk",
    "[Gmail]/Starred": "\\Flagged",
    "[Gmail]/Trash": "\\Trash",
}
EXCHANGE_FOLDERS = dict.fromkeys(
    [
        "Archive",
        "Conversation History",
        "Deleted Items",
        "Drafts",
        "Junk Email",
        "Outbox",
        "Sent Items",
    ]
)


class ProviderDovecot(DovecotServer):
    """The test Dovecot with a provider's folders ({name: SPECIAL-USE or None}) created for
    every user, instead of its own Sent, Junk, Drafts and Trash."""

    def __init__(self, folders):
        super().__init__()
        self.provider_folders = folders

    def _prepare(self):
        prepared = super()._prepare()
        with open(self.config, encoding="utf-8") as handle:
            text = re.sub(r"  mailbox \w+ \{[^}]*\}\n", "", handle.read())
        if "special_use" in text or "  separator = /\n" not in text:
            raise DovecotError("The test Dovecot's configuration changed: adapt ProviderDovecot")
        blocks = "".join(
            f'  mailbox "{name}" {{\n'
            + (f"    special_use = {use}\n" if use else "")
            + "    auto = subscribe\n  }\n"
            for name, use in self.provider_folders.items()
        )
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write(text.replace("  separator = /\n", "  separator = /\n" + blocks))
        return prepared


class LayoutCase(MailServerCase):
    def fill(self, login, placed):
        """APPEND each mail into each of its folders ({subject: [folders]}), as the provider
        shows one mail in several folders."""
        for subject, folder_names in placed.items():
            if subject.startswith("Sent "):
                raw = self.corpus.message(
                    sender=("Sales", login),
                    to=("Giulia Rossi", f"giulia.rossi@{CLIENT_DOMAIN}"),
                    subject=subject,
                )
            else:
                raw = self.corpus.message(subject=subject)
            for folder in folder_names:
                self.server.append(login, raw, folder=folder, seen=subject.startswith("Sent "))

    def folder_table(self, mailbox):
        return {f.label: (f.role, f.sync) for f in mailbox.folder_ids}

    def subjects(self, mailbox):
        return sorted(self.stored(mailbox).mapped("subject"))


@tagged("post_install", "-at_install")
class TestGmailLayout(LayoutCase):
    get_mail_server = staticmethod(
        session_server(functools.partial(ProviderDovecot, GMAIL_FOLDERS))
    )

    def test_all_mail_is_never_synced_nor_duplicated(self):
        login = self.make_mail_user()
        everything = "[Gmail]/All Mail"
        self.fill(
            login,
            {
                "Richiesta di offerta": ["INBOX", "[Gmail]/Important", everything],
                "Sent offer": ["[Gmail]/Sent Mail", everything],
                "Archived thread": [everything],
                "Cheap pills": ["[Gmail]/Spam"],
                "Unfinished draft": ["[Gmail]/Drafts", everything],
                "Deleted notice": ["[Gmail]/Trash"],
            },
        )
        mailbox = self.make_mailbox(login)
        mailbox.button_confirm_login()
        self.assertEqual(
            self.folder_table(mailbox),
            {
                "INBOX": ("inbox", True),
                "[Gmail]/Sent Mail": ("sent", True),
                "[Gmail]/Spam": ("spam", False),
                "[Gmail]/Drafts": ("drafts", False),
                "[Gmail]/Trash": ("trash", False),
                "[Gmail]/All Mail": ("all", False),
                "[Gmail]/Important": ("other", False),
                "[Gmail]/Starred": ("other", False),
            },
        )

        self.sync(mailbox)

        self.assertEqual(self.subjects(mailbox), ["Richiesta di offerta", "Sent offer"])
        self.assertEqual(self.stored(mailbox, subject="Sent offer").direction, "outgoing")

        # someone turns All Mail on: only what no synced folder had comes in, nothing twice
        mailbox.folder_ids.filtered(lambda f: f.role == "all").sync = True
        self.sync(mailbox)
        self.assertEqual(
            self.subjects(mailbox),
            ["Archived thread", "Richiesta di offerta", "Sent offer", "Unfinished draft"],
        )


@tagged("post_install", "-at_install")
class TestExchangeLayout(LayoutCase):
    get_mail_server = staticmethod(
        session_server(functools.partial(ProviderDovecot, EXCHANGE_FOLDERS))
    )

    def test_folders_found_by_their_names(self):
        login = self.make_mail_user()
        self.fill(
            login,
            {
                "Richiesta di offerta": ["INBOX"],
                "Sent offer": ["Sent Items"],
                "Cheap pills": ["Junk Email"],
                "Deleted notice": ["Deleted Items"],
                "Unfinished draft": ["Drafts"],
            },
        )
        mailbox = self.make_mailbox(login)
        mailbox.button_confirm_login()
        self.assertEqual(
            self.folder_table(mailbox),
            {
                "INBOX": ("inbox", True),
                "Sent Items": ("sent", True),
                "Junk Email": ("spam", False),
                "Deleted Items": ("trash", False),
                "Drafts": ("drafts", False),
                "Archive": ("other", False),
                "Conversation History": ("other", False),
                "Outbox": ("other", False),
            },
        )
        self.sync(mailbox)
        self.assertEqual(self.subjects(mailbox), ["Richiesta di offerta", "Sent offer"])
        self.assertEqual(self.stored(mailbox, subject="Sent offer").direction, "outgoing")


@tagged("post_install", "-at_install")
class TestCourierLayout(LayoutCase):
    get_mail_server = staticmethod(courier.get_server)

    def test_inbox_prefix_and_ukrainian_names(self):
        login = self.make_mail_user()
        names = {"Надіслані": "Sent offer", "Спам": "Cheap pills", "Кошик": "Deleted notice"}
        for name in (*names, "Чернетки", "Клієнти"):
            self.server.create_folder(login, "INBOX." + utf7(name))
        self.fill(
            login,
            {"Richiesta di offerta": ["INBOX"]}
            | {subject: ["INBOX." + utf7(name)] for name, subject in names.items()},
        )
        mailbox = self.make_mailbox(login)
        mailbox.button_confirm_login()
        self.assertEqual(
            self.folder_table(mailbox),
            {
                "INBOX": ("inbox", True),
                "INBOX.Надіслані": ("sent", True),
                "INBOX.Спам": ("spam", False),
                "INBOX.Кошик": ("trash", False),
                "INBOX.Чернетки": ("drafts", False),
                "INBOX.Клієнти": ("other", False),
            },
        )
        self.sync(mailbox)
        self.assertEqual(self.subjects(mailbox), ["Richiesta di offerta", "Sent offer"])
        self.assertEqual(self.stored(mailbox, subject="Sent offer").direction, "outgoing")
