"""The pure pipeline (mailflow/): plain values in, plain values out, no database."""

import base64
import imaplib
import poplib
import random
import socket
import ssl
import unittest
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.addons.mail_crm_link.mailflow import (
    addresses,
    classify,
    errors,
    explain,
    imap_sync,
    parse,
    pop_sync,
    push,
    rules,
    text,
)

from .corpus import Corpus

DEFECT_NAMES = st.lists(
    st.sampled_from([d.__name__.removesuffix("Defect") for d in parse.CONTENT_LOSING_DEFECTS]),
    max_size=4,
)


class TestDamage(unittest.TestCase):
    """Issue 25: a broken MIME structure whose text or files could be read is *damaged* (stored
    and linked, marked, source kept); in error only when nothing could be read."""

    def setUp(self):
        super().setUp()
        self.corpus = Corpus()

    def test_decision(self):
        self.assertEqual(parse.damage([], False, False), parse.INTACT)
        self.assertEqual(parse.damage([], True, True), parse.INTACT)
        self.assertEqual(parse.damage(["CloseBoundaryNotFound"], True, False), parse.DAMAGED)
        self.assertEqual(parse.damage(["InvalidBase64Padding"], False, True), parse.DAMAGED)
        self.assertEqual(parse.damage(["StartBoundaryNotFound"], False, False), parse.UNREADABLE)

    @settings(max_examples=200, derandomize=True, deadline=None, database=None)
    @given(DEFECT_NAMES, st.booleans(), st.booleans())
    def test_decision_is_total(self, defects, has_text, has_files):
        verdict = parse.damage(defects, has_text, has_files)
        if not defects:
            self.assertEqual(verdict, parse.INTACT)
        elif has_text or has_files:
            self.assertEqual(verdict, parse.DAMAGED)
        else:
            self.assertEqual(verdict, parse.UNREADABLE)

    def test_readable(self):
        self.assertFalse(parse.readable_text("", ""))
        self.assertFalse(parse.readable_text(" \r\n", "<p>&nbsp;</p><br/>"))
        self.assertTrue(parse.readable_text("", "<p>Offer</p>"))
        self.assertTrue(parse.readable_text("Offer", ""))
        self.assertFalse(parse.readable_files([parse.Attachment("a", b"", "text/plain")]))
        self.assertTrue(parse.readable_files([parse.Attachment("a", b"x", "text/plain")]))

    def test_damaged_mails_are_read(self):
        for kind, defect, files in (
            ("no-close-boundary", "CloseBoundaryNotFound", {"offer.pdf": 301}),
            ("bad-padding", "InvalidBase64Padding", {"offer.pdf": 301}),
            ("no-end", "CloseBoundaryNotFound", {"offer.pdf": 150}),
            ("no-parts", "StartBoundaryNotFound", {}),
        ):
            with self.subTest(kind=kind):
                mail = parse.parse(self.corpus.damaged(kind))
                self.assertFalse(mail.error)
                self.assertTrue(mail.damaged)
                self.assertTrue(mail.degraded, "its source is kept")
                self.assertTrue(
                    any(
                        w.startswith("damaged MIME structure") and defect in w
                        for w in mail.warnings
                    ),
                    mail.warnings,
                )
                self.assertIn("Here is the offer we spoke about", mail.text)
                self.assertEqual({a.name: len(a.content) for a in mail.attachments}, files)
                for att in mail.attachments:
                    self.assertTrue(att.content.startswith(b"%PDF-1.4 offer"))
                self.assertEqual(mail.sender, "giulia.rossi@client.example")

    def test_unreadable_stays_in_error(self):
        for kind in ("no-headers", "empty-multipart"):
            with self.subTest(kind=kind):
                mail = parse.parse(self.corpus.malformed(kind))
                self.assertTrue(mail.error)
                self.assertFalse(mail.damaged)
                self.assertTrue(mail.degraded)

    def test_intact_mail_is_not_damaged(self):
        mail = parse.parse(self.corpus.message(attachments=["a.pdf"]))
        self.assertFalse(mail.damaged or mail.error or mail.degraded)

    def test_only_files_from_broken_parts_are_marked(self):
        """A missing closing boundary may cut the last part only; a bad padding its own part."""
        pdf = base64.b64encode(b"%PDF-1.4 " * 30).decode()

        def part(name, data):
            return (
                f"--B\r\nContent-Type: application/pdf; name={name}\r\n"
                f"Content-Disposition: attachment; filename={name}\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{data}\r\n"
            )

        head = (
            "From: a@example.com\r\nTo: b@example.org\r\nSubject: files\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
        )
        unclosed = parse.parse((head + part("one.pdf", pdf) + part("two.pdf", pdf)).encode())
        self.assertTrue(unclosed.damaged)
        self.assertEqual(
            [(a.name, a.damaged) for a in unclosed.attachments],
            [("one.pdf", False), ("two.pdf", True)],
        )
        padded = head + part("one.pdf", pdf.rstrip("=")[:-1]) + part("two.pdf", pdf) + "--B--\r\n"
        mail = parse.parse(padded.encode())
        self.assertEqual(
            [(a.name, a.damaged) for a in mail.attachments], [("one.pdf", True), ("two.pdf", False)]
        )
        intact = parse.parse((head + part("one.pdf", pdf) + "--B--\r\n").encode())
        self.assertEqual([a.damaged for a in intact.attachments], [False])

    def test_tail_cut(self):
        self.assertTrue(parse.tail_cut(False, True, True))
        self.assertFalse(parse.tail_cut(False, True, False))
        self.assertTrue(parse.tail_cut(True, False, False))
        self.assertFalse(parse.tail_cut(False, False, True))


class TestStoredRoute(unittest.TestCase):
    """The store part of the routing explanation is written as it is built (the store step
    does not walk it to clean it): no NUL may reach PostgreSQL from a header or folder."""

    @settings(max_examples=200, deadline=None)
    @given(folder=st.one_of(st.none(), st.text()), detail=st.one_of(st.none(), st.text()))
    def test_no_nul_and_bounded(self, folder, detail):
        route = explain.stored(
            folder, "inbox", ("incoming", "from_outside"), ("client", "default", detail), False
        )
        store = route["store"]
        self.assertNotIn("\x00", store["folder"])
        self.assertNotIn("\x00", store["kind"][2])
        self.assertLessEqual(len(store["kind"][2]), 300)
        self.assertEqual(store["folder"], (folder or "").replace("\x00", ""))


class TestAddresses(unittest.TestCase):
    def test_normalize(self):
        self.assertEqual(addresses.normalize("Anna <Anna.S@Example.COM>"), "anna.s@example.com")
        self.assertEqual(
            addresses.normalize('"Rossi, G." <g.rossi@client.it>'), "g.rossi@client.it"
        )
        self.assertEqual(addresses.normalize("olena@приклад.укр"), "olena@xn--80aikifvh.xn--j1amh")
        self.assertEqual(
            addresses.normalize("anna+crm@example.com", fold_plus=True), "anna@example.com"
        )
        self.assertEqual(addresses.normalize("anna+crm@example.com"), "anna+crm@example.com")
        self.assertEqual(addresses.normalize("not an address"), "")
        self.assertEqual(addresses.normalize(None), "")

    def test_normalize_reads_a_bare_address_as_the_parser_does(self):
        """A bare dot-atom address skips the library's address parser: for each such
        address among random strings (and a few near misses), the parser gives it back
        unchanged, so skipping it changes nothing."""
        rng = random.Random(5)

        def word(alphabet):
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))

        samples = ["a..b@c.d", "a.@b.c", ".a@b", "a@b..c", "a@-b.c", "a@b.", "o'neil@x.ex"]
        samples += [f"{word('aZ9..!#$%&*+/=?^_`{|}~-')}@{word('aZ9..-')}" for _ in range(5000)]
        bare = [s for s in samples if addresses._DOT_ATOM_ADDRESS.fullmatch(s)]
        self.assertGreater(len(bare), 1000)
        for sample in bare:
            pairs, _note = addresses.split_addresses([sample])
            self.assertEqual(pairs[0][1].strip().strip("<>").strip(), sample)

    def test_parse_list_dedups_in_order(self):
        pairs = addresses.parse_list(["A <a@x.com>, b@y.com", "A Again <A@X.com>"])
        self.assertEqual(pairs, [("A", "a@x.com"), ("", "b@y.com")])

    def test_internal(self):
        internal = addresses.parse_internal("mycompany.com; @partner.it\nboss@gmail.com")
        self.assertEqual(internal, {"mycompany.com", "partner.it", "boss@gmail.com"})
        self.assertTrue(addresses.is_internal("anna@mycompany.com", internal))
        self.assertTrue(addresses.is_internal("anna@mail.mycompany.com", internal))
        self.assertTrue(addresses.is_internal("boss@gmail.com", internal))
        self.assertFalse(addresses.is_internal("other@gmail.com", internal))
        self.assertFalse(addresses.is_internal("x@notmycompany.com", internal))

    def test_direction_and_internal_only(self):
        internal = frozenset({"mycompany.com"})
        self.assertEqual(classify.direction("c@client.it", "inbox", internal), "incoming")
        self.assertEqual(classify.direction("me@mycompany.com", "inbox", internal), "outgoing")
        self.assertEqual(classify.direction("c@client.it", "sent", internal), "outgoing")
        self.assertTrue(classify.is_internal_only("a@mycompany.com", ["b@mycompany.com"], internal))
        self.assertFalse(classify.is_internal_only("a@mycompany.com", ["c@client.it"], internal))


class TestParse(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.corpus = Corpus()

    def test_charsets_and_attachments(self):
        raw = self.corpus.message(
            sender=("Анна Смирнова", "anna@client.example"),
            subject="Счёт на оплату",
            lang="ru",
            charset="koi8-r",
            attachments=["Договор №5.docx"],
            inline_image=True,
        )
        mail = parse.parse(raw)
        self.assertEqual(mail.subject, "Счёт на оплату")
        self.assertEqual((mail.sender_name, mail.sender), ("Анна Смирнова", "anna@client.example"))
        self.assertIn("Здравствуйте", mail.text)
        self.assertIn("<p>", mail.html)
        names = {a.name for a in mail.attachments}
        self.assertEqual(names, {"Договор №5.docx", "logo.png"})
        self.assertEqual(mail.dedup_key, mail.message_id)
        self.assertFalse(mail.error)

    def test_thread_headers(self):
        first = self.corpus.message()
        mail = parse.parse(self.corpus.reply(first, sender=("B", "b@client.example")))
        original = parse.parse(first).message_id
        self.assertEqual(mail.in_reply_to, original)
        self.assertIn(original, mail.references)

    def test_no_message_id_dedups_on_content(self):
        raw = b"From: a@b.c\r\nSubject: x\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n"
        mail = parse.parse(raw)
        self.assertTrue(mail.dedup_key.startswith("sha256:"))
        self.assertEqual(mail.dedup_key, parse.parse(raw).dedup_key)

    def test_malformed(self):
        # a broken structure whose file was still read is damaged, not in error (issue 25)
        broken = parse.parse(self.corpus.malformed("bad-boundary"))
        self.assertEqual((broken.error, broken.damaged), ("", True))
        self.assertIn("not an email", parse.parse(self.corpus.malformed("no-headers")).error)
        self.assertIn(
            "malformed MIME structure, nothing could be read: ",
            parse.parse(self.corpus.malformed("empty-multipart")).error,
        )
        charset = parse.parse(self.corpus.malformed("bad-charset"))
        self.assertFalse(charset.error)
        self.assertIn("unknown charset x-unknown", charset.warnings)
        fallback = datetime(2026, 1, 1, tzinfo=timezone.utc)
        bad_date = parse.parse(self.corpus.malformed("bad-date"), fallback_date=fallback)
        self.assertEqual(bad_date.date, fallback)
        self.assertTrue(bad_date.warnings)

    def test_classification_headers_kept(self):
        self.assertEqual(
            parse.parse(self.corpus.auto_reply("x@y.z")).headers["auto-submitted"], "auto-replied"
        )
        self.assertIn("list-id", parse.parse(self.corpus.mailing_list()).headers)


class TestEncodedWords(unittest.TestCase):
    def test_space_after_an_encoded_word_stays(self):
        """A folded subject: an encoded word, then plain text on the next line."""
        self.assertEqual(
            text.decode_words("=?utf-8?q?macchine_espresso?=\r\n (seconda parte)")[0],
            "macchine espresso\r\n (seconda parte)",
        )
        header = parse.parse(
            b"Subject: =?utf-8?b?0KDQsNGF0YPQvdC+0Log4oSWMw==?=\r\n (walk12 B)\r\n\r\nx"
        )
        self.assertEqual(header.subject, "Рахунок №3 (walk12 B)")

    def test_adjacent_words_join_and_a_split_character_is_whole(self):
        word = "Привет".encode()
        a, b = (base64.b64encode(word[:3]).decode(), base64.b64encode(word[3:]).decode())
        self.assertEqual(
            text.decode_words(f"=?utf-8?b?{a}?=\r\n =?UTF-8?b?{b}?= !"), ("Привет !", True)
        )
        self.assertEqual(text.decode_words("=?utf-8?q?a?= =?utf-8?q?b?=")[0], "ab")

    def test_charsets_python_names_otherwise(self):
        """Logical-order Hebrew and Thai are read by our own aliases, not by the ones Odoo's
        process adds to ``codecs`` (the parse helper has no Odoo, and must read the same)."""
        for label in ("ISO-8859-8-I", "iso-8859-8-e", "iso_8859-8-i", "ISO8859-8I"):
            self.assertEqual(text.codec(label), "iso8859-8", label)
        self.assertEqual(text.codec("windows-874"), "cp874")
        self.assertEqual(text.codec("874"), "cp874")
        hebrew = "=?iso-8859-8-i?b?" + base64.b64encode("שלום".encode("iso8859-8")).decode() + "?="
        self.assertEqual(text.decode_words(hebrew), ("שלום", True))

    def test_malformed_words_are_kept(self):
        self.assertEqual(text.decode_words("=?x-unknown?q?abc?=")[1], False)
        self.assertEqual(text.decode_words("plain =?utf-8?Q?")[0], "plain =?utf-8?Q?")


class TestImapPlanning(unittest.TestCase):
    def test_utf7_round_trip(self):
        for name in ("Отправленные", "Надіслані", "Posta inviata", "A&B", "Città/Clienti"):
            self.assertEqual(imap_sync.utf7_decode(imap_sync.utf7_encode(name)), name)
        self.assertEqual(imap_sync.utf7_encode("A&B"), "A&-B")

    def test_list_parsing_and_roles(self):
        sent_ru = imap_sync.utf7_encode("Отправленные").encode()
        lines = [
            b'(\\HasNoChildren) "/" INBOX',
            b'(\\HasNoChildren) "/" "' + sent_ru + b'"',
            b'(\\HasNoChildren \\Junk) "/" "Bulk"',
            b'(\\Noselect \\HasChildren) "/" "[Gmail]"',
            (b'(\\HasNoChildren) "/" {13}', b"Posta inviata"),
        ]
        folders = imap_sync.parse_list_response(lines)
        self.assertEqual(
            [f.label for f in folders],
            ["INBOX", "Отправленные", "Bulk", "[Gmail]", "Posta inviata"],
        )
        self.assertFalse(folders[3].selectable)
        roles = imap_sync.detect_roles(folders)
        self.assertEqual(roles["spam"], "Bulk", "SPECIAL-USE wins over names")
        self.assertEqual(imap_sync.utf7_decode(roles["sent"]), "Отправленные")
        flagged = imap_sync.parse_list_response([b'(\\Sent) "/" "Elementi inviati"'] + lines)
        self.assertEqual(imap_sync.detect_roles(flagged)["sent"], "Elementi inviati")

    def test_plan_folder(self):
        status = imap_sync.FolderStatus(uidvalidity=7, uidnext=50, messages=40)
        since = datetime(2026, 11, 1)
        first = imap_sync.plan_folder(None, 0, status, since)
        self.assertEqual((first.reset, first.first_uid, first.since), (True, 1, since))
        incremental = imap_sync.plan_folder(7, 42, status, since)
        self.assertEqual(
            (incremental.reset, incremental.first_uid, incremental.since), (False, 43, None)
        )
        resumed = imap_sync.plan_folder(7, 42, status, since, resume_since=since)
        self.assertEqual(resumed.since, since)
        changed = imap_sync.plan_folder(6, 42, status, since)
        self.assertTrue(changed.reset)

    def test_pop_plan(self):
        uidls = [(1, "a"), (2, "b"), (3, "c")]
        self.assertEqual(pop_sync.plan(uidls, {"b"}, False), ([(1, "a"), (3, "c")], []))
        self.assertEqual(pop_sync.plan(uidls, {"b"}, True), ([(1, "a"), (3, "c")], [2]))


class TestOneReader(unittest.TestCase):
    """The one buffer every byte of an IMAP connection goes through (imap_sync._Reader)."""

    def setUp(self):
        super().setUp()
        self.server, client = socket.socketpair()
        self.addCleanup(self.server.close)
        self.addCleanup(client.close)
        self.reader = imap_sync._Reader(client)

    def test_a_line_that_came_with_the_previous_one_is_not_waited_for(self):
        """The push root cause: the continuation and an EXISTS in one packet. A reader that
        buffers the EXISTS where poll() cannot see it makes the listener wait for the next
        IDLE period; this one hands it over at once."""
        self.server.sendall(b"+ idling\r\n* 2 EXISTS\r\n")
        self.assertEqual(self.reader.readline(), b"+ idling\r\n")
        self.assertEqual(self.reader.wait_line(0), b"* 2 EXISTS\r\n")
        self.assertIsNone(self.reader.wait_line(0.05), "nothing else: a timeout, not a hang")

    def test_lines_and_literals_across_packets(self):
        self.server.sendall(b"* 1 FETCH (BODY[] {5}\r\nab")
        self.assertEqual(self.reader.readline(), b"* 1 FETCH (BODY[] {5}\r\n")
        self.server.sendall(b"cde)\r\nA1 OK done\r\n")
        self.assertEqual(self.reader.read(5), b"abcde")
        self.assertEqual(self.reader.readline(), b")\r\n")
        self.assertEqual(self.reader.readline(3), b"A1 ", "imaplib's line limit is kept")
        self.assertEqual(self.reader.readline(), b"OK done\r\n")

    def test_end_of_stream(self):
        self.server.sendall(b"* BYE going\r\npartial")
        self.server.close()
        self.assertEqual(self.reader.readline(), b"* BYE going\r\n")
        self.assertEqual(self.reader.readline(), b"partial")
        self.assertEqual(self.reader.readline(), b"", "imaplib reads EOF as an empty line")
        with self.assertRaises(ConnectionResetError):
            self.reader.wait_line(1)

    def test_idle_result(self):
        result = imap_sync.IdleResult(lines=[], changes=[])
        result.add(b"* OK Still here\r\n")
        self.assertFalse(result, "a keep-alive is no news")
        for line in (b"* 4 EXISTS", b"* 4 RECENT", b"* 2 EXPUNGE", b"* 3 FETCH (FLAGS ())"):
            result.add(line + b"\r\n")
        self.assertTrue(result)
        self.assertEqual(len(result.changes), 4)
        self.assertEqual(result.exists, 4)
        with self.assertRaises(imaplib.IMAP4.abort):
            result.add(b"* BYE Server shutting down.\r\n")


class TestPushDecisions(unittest.TestCase):
    def test_behind(self):
        synced = push.Synced(uidvalidity=7, last_uid=41)
        self.assertFalse(push.behind(7, [], synced), "nothing above the checkpoint")
        self.assertTrue(push.behind(7, [42], synced), "mail the sync has not stored")
        self.assertTrue(push.behind(8, [], synced), "UIDs restarted: the sync resets")
        self.assertTrue(push.behind(7, [], None), "never synced")

    def test_shards(self):
        self.assertEqual(push.parse_shard("1/3"), (1, 3))
        for wrong in ("3/3", "-1/2", "1", "a/b", "1/0"):
            with self.assertRaises(ValueError, msg=wrong):
                push.parse_shard(wrong)
        ids = range(1, 101)
        shards = [{i for i in ids if push.in_shard(i, (k, 3))} for k in range(3)]
        self.assertEqual(set.union(*shards), set(ids), "every mailbox has a listener")
        self.assertEqual(sum(map(len, shards)), 100, "and only one")
        self.assertTrue(all(push.in_shard(i, None) for i in ids))

    def test_delays(self):
        self.assertEqual([push.retry_delay(a) for a in range(7)], [0.2, 0.5, 1, 2, 5, 5, 5])
        self.assertEqual(push.reconnect_delay(0, jitter=lambda low, high: high), 1.2)
        self.assertEqual(push.reconnect_delay(99, jitter=lambda low, high: low), 240)

    def test_summary(self):
        self.assertEqual(
            push.summary({"new": 2, "fetched": 2, "failed": 0, "partial": False}),
            "new 2, fetched 2, failed 0, partial False",
        )
        self.assertIn("busy", push.summary({"busy": True}))
        self.assertEqual(push.summary({"error": "refused"}), "failed: refused")
        self.assertEqual(
            push.summary({"new": 1, "queued": 1.5}), "new 1 (after 1.50s waiting for a sync slot)"
        )


class TestErrorKinds(unittest.TestCase):
    def test_classify(self):
        cases = [
            (imaplib.IMAP4.error("b'[AUTHENTICATIONFAILED] Authentication failed.'"), errors.AUTH),
            (poplib.error_proto("-ERR [AUTH] Authentication failed."), errors.AUTH),
            (ssl.SSLCertVerificationError("certificate verify failed"), errors.TLS_CERT),
            (ssl.SSLError("wrong version number"), errors.TLS),
            (TimeoutError("timed out"), errors.TIMEOUT),
            (ConnectionRefusedError(111, "refused"), errors.UNREACHABLE),
            (socket.gaierror(-2, "Name or service not known"), errors.UNREACHABLE),
            (imap_sync.FolderMissing("Gone"), errors.FOLDER),
            (imaplib.IMAP4.error("FETCH failed"), errors.PROTOCOL),
        ]
        for exc, kind in cases:
            self.assertEqual(errors.classify(exc), kind, repr(exc))


class TestSyncRules(unittest.TestCase):
    def test_our_own_failures_are_internal(self):
        self.assertEqual(errors.classify(AttributeError("'Header' object")), errors.INTERNAL)
        self.assertEqual(errors.classify(RecursionError()), errors.INTERNAL)
        self.assertFalse(errors.is_server_failure(KeyError("x")))
        self.assertTrue(errors.is_server_failure(ConnectionRefusedError(111, "refused")))
        # a server failure backs off, ours does not
        self.assertEqual(rules.next_sync_minutes(5, 3, rules.SERVER), 40)
        self.assertEqual(rules.next_sync_minutes(5, 3, rules.INTERNAL), 5)
        self.assertEqual(rules.next_sync_minutes(5, 30, rules.SERVER), 24 * 60)
        self.assertEqual(rules.next_sync_minutes(5, 0, rules.SERVER), 5)

    def test_batches_by_count_and_bytes(self):
        sizes = {1: 10, 2: 10, 3: 100, 4: 10, 5: 10, 6: 10}
        self.assertEqual(
            rules.split_by_budget([1, 2, 3, 4, 5, 6], sizes, 100, 25),
            [[1, 2], [3], [4, 5], [6]],
        )
        self.assertEqual(rules.split_by_budget([1, 2, 4], sizes, 2, 1000), [[1, 2], [4]])
        self.assertEqual(rules.split_by_budget([7, 8], {}, 100, 1), [[7, 8]])  # sizes unknown
        self.assertEqual(rules.split_by_budget([], sizes, 10, 10), [])

    def test_window_and_progress(self):
        since = datetime(2026, 1, 1)
        self.assertTrue(rules.outside_window(datetime(2025, 12, 31, tzinfo=timezone.utc), since))
        self.assertFalse(rules.outside_window(datetime(2026, 1, 2, tzinfo=timezone.utc), since))
        self.assertFalse(rules.outside_window(None, since))
        self.assertFalse(rules.outside_window(datetime(2000, 1, 1), None))
        self.assertEqual(rules.progress(18, 13), (13, 13))
        self.assertEqual(rules.progress(-1, None), (0, 0))

    def test_pop3_header_date(self):
        head = b"From: a@b.c\r\nDate: Tue, 03 Mar 2026 10:00:00 +0100\r\n\r\n"
        self.assertEqual(
            pop_sync.header_date(head), datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)
        )
        self.assertIsNone(pop_sync.header_date(b"Date: not a date\r\n\r\n"))
        self.assertIsNone(pop_sync.header_date(b"\xff\xfe\x00garbage"))
