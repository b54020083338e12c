"""The pure decisions of linking (mailflow/classify, threads, policy): no database."""

import unittest
from datetime import date, datetime

from odoo.addons.mail_crm_link.mailflow import addresses, classify, policy, threads
from odoo.addons.mail_crm_link.mailflow.parse import parse

from .corpus import Corpus

OURS = frozenset({"mycompany.example"})
IN, OUT = classify.INCOMING, classify.OUTGOING


def kind_of(raw, folder_role="inbox", never_log=(), skip_lists=True):
    mail = parse(raw)
    recipients = [a for _n, a in mail.to + mail.cc]
    direction = classify.direction(mail.sender, folder_role, OURS)
    return classify.kind(
        mail.headers,
        direction,
        mail.sender,
        recipients,
        OURS,
        folder_role,
        frozenset(never_log),
        skip_lists,
    )


class TestKinds(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.corpus = Corpus(domain="client.example", our_domain="mycompany.example")

    def test_client_mail_both_ways(self):
        self.assertEqual(kind_of(self.corpus.message()), classify.CLIENT)
        sent = self.corpus.message(
            sender=("Sales", "sales@mycompany.example"), to="giulia@client.example"
        )
        self.assertEqual(kind_of(sent, "sent"), classify.CLIENT)

    def test_not_crm_material(self):
        corpus = self.corpus
        internal = corpus.internal("a@mycompany.example", "b@mycompany.example")
        self.assertEqual(kind_of(internal), classify.INTERNAL)
        for auto in ("auto-submitted", "x-autoreply", "precedence"):
            self.assertEqual(
                kind_of(corpus.auto_reply("sales@mycompany.example", kind=auto)),
                classify.AUTO_REPLY,
                auto,
            )
        self.assertEqual(kind_of(corpus.bounce("x@client.example")), classify.BOUNCE)
        self.assertEqual(kind_of(corpus.mailing_list()), classify.MAILING_LIST)
        self.assertEqual(kind_of(corpus.message(), folder_role="spam"), classify.SPAM)

    def test_list_mail_is_client_mail_when_the_setting_says_so(self):
        # Precedence: bulk of a list does not make it an auto-reply then
        self.assertEqual(kind_of(self.corpus.mailing_list(), skip_lists=False), classify.CLIENT)

    def test_auto_submitted_no_is_a_person(self):
        raw = self.corpus.message(extra_headers={"Auto-Submitted": "no"})
        self.assertEqual(kind_of(raw), classify.CLIENT)

    def test_never_log_by_address_and_domain(self):
        raw = self.corpus.message(sender=("Mum", "mum@family.example"))
        self.assertEqual(kind_of(raw, never_log={"family.example"}), classify.EXCLUDED)
        self.assertEqual(kind_of(raw, never_log={"mum@family.example"}), classify.EXCLUDED)
        self.assertEqual(kind_of(raw, never_log={"other.example"}), classify.CLIENT)
        # outgoing to a never-log address and a client: still client mail
        sent = self.corpus.message(
            sender="sales@mycompany.example", to=["mum@family.example", "g@client.example"]
        )
        self.assertEqual(kind_of(sent, "sent", never_log={"family.example"}), classify.CLIENT)

    def test_correspondents(self):
        self.assertEqual(
            classify.correspondents(IN, "g@client.example", [], OURS), ["g@client.example"]
        )
        self.assertEqual(
            classify.correspondents(
                OUT, "me@mycompany.example", ["g@client.example", "boss@mycompany.example"], OURS
            ),
            ["g@client.example"],
        )

    def test_client_side_with_names(self):
        frm, to = "Giulia <g@client.example>", "Sales <s@mycompany.example>"
        self.assertEqual(
            classify.client_side(IN, "g@client.example", frm, to, "", OURS),
            [("Giulia", "g@client.example")],
        )
        self.assertEqual(
            classify.client_side(
                OUT,
                "s@mycompany.example",
                to,
                "Luca <l@client.example>, boss@mycompany.example",
                "m@client.example",
                OURS,
            ),
            [("Luca", "l@client.example"), ("", "m@client.example")],
        )


class TestLookupForms(unittest.TestCase):
    def test_idn_and_plus(self):
        forms = addresses.lookup_forms("olena+crm@xn--80aikifvh.xn--j1amh", fold_plus=True)
        self.assertEqual(
            forms,
            [
                "olena+crm@xn--80aikifvh.xn--j1amh",
                "olena@xn--80aikifvh.xn--j1amh",
                "olena+crm@приклад.укр",
                "olena@приклад.укр",
            ],
        )
        self.assertEqual(addresses.lookup_forms("a+b@x.com"), ["a+b@x.com"])
        self.assertEqual(addresses.lookup_forms(""), [])


class TestThreads(unittest.TestCase):
    SECRET = "s3cret"

    def test_ancestors_nearest_first(self):
        self.assertEqual(
            threads.ancestors("<c@x>", "<a@x> <b@x> <c@x>"), ["<c@x>", "<b@x>", "<a@x>"]
        )
        self.assertEqual(threads.ancestors("", ""), [])

    def test_token_round_trip(self):
        msgid = threads.make_message_id("crm.lead", 42, self.SECRET, "crm.example", "3f9a1c2e3f9a")
        self.assertTrue(msgid.startswith("<mcl.3f9a1c2e3f9a."))
        self.assertTrue(msgid.endswith("@crm.example>"))
        self.assertEqual(threads.read_token(msgid, self.SECRET), ("crm.lead", 42))
        partner = threads.make_message_id("res.partner", 7, self.SECRET, "h", "abcdef01abcd")
        self.assertEqual(threads.read_token(partner, self.SECRET), ("res.partner", 7))

    def test_forged_or_foreign_tokens_find_nothing(self):
        msgid = threads.make_message_id("crm.lead", 42, self.SECRET, "h", "3f9a1c2e3f9a")
        nonce, box, signature = msgid[5:].split("@")[0].split(".")
        flipped = f"{int(box[-1], 16) ^ 1:x}"
        forged = f"<mcl.{nonce}.{box[:-1]}{flipped}.{signature}@h>"
        self.assertIsNone(threads.read_token(forged, self.SECRET))
        self.assertIsNone(threads.read_token(msgid, "other secret"))
        self.assertIsNone(threads.read_token("<CAF=x@mail.gmail.com>", self.SECRET))
        self.assertEqual(
            threads.tokens(["<a@x>", msgid, forged, msgid], self.SECRET), [("crm.lead", 42)]
        )


class TestPolicy(unittest.TestCase):
    P = policy.Policy()
    C = classify.CLIENT

    def decide(self, direction, known=False, client=False, thread=False, open_deal=False, **kw):
        rules = policy.Policy(**kw) if kw else self.P
        return policy.to_create(
            rules, direction, self.C, "new@client.example", known, client, thread, open_deal
        )

    def test_defaults(self):
        self.assertEqual(self.decide(IN), policy.LEAD)
        self.assertEqual(self.decide(OUT), policy.CONTACT)
        self.assertEqual(self.decide(IN, known=True, client=True), policy.OPPORTUNITY)
        self.assertIsNone(self.decide(IN, known=True, client=True, open_deal=True))
        self.assertIsNone(self.decide(OUT, known=True, client=True))

    def test_choices(self):
        for choice in (policy.OPPORTUNITY, policy.CONTACT, policy.COMPANY):
            self.assertEqual(self.decide(IN, incoming_unknown=choice), choice)
        self.assertIsNone(self.decide(IN, incoming_unknown=policy.NOTHING))
        self.assertEqual(self.decide(OUT, outgoing_unknown=policy.LEAD), policy.LEAD)
        self.assertIsNone(self.decide(OUT, outgoing_unknown=policy.NOTHING))
        self.assertEqual(
            self.decide(IN, known=True, client=True, incoming_known=policy.LEAD), policy.LEAD
        )
        self.assertEqual(
            self.decide(IN, known=True, client=True, open_deal=True, only_without_open_deal=False),
            policy.OPPORTUNITY,
        )

    def test_threads_and_leads_create_nothing(self):
        self.assertIsNone(self.decide(IN, thread=True))  # a client's colleague answering
        self.assertIsNone(self.decide(IN, known=True, client=False))  # the address is a lead's

    def test_always_create(self):
        rules = {"always_create": frozenset({"forms@web.example"})}
        decide = policy.to_create
        P = policy.Policy(**rules)
        self.assertEqual(
            decide(P, IN, self.C, "forms@web.example", True, True, True, True), policy.LEAD
        )
        P = policy.Policy(incoming_unknown=policy.NOTHING, **rules)
        self.assertEqual(
            decide(P, IN, self.C, "forms@web.example", True, False, False, False), policy.LEAD
        )

    def test_only_client_mail_creates(self):
        for kind in (classify.AUTO_REPLY, classify.BOUNCE, classify.INTERNAL, classify.SPAM):
            self.assertIsNone(
                policy.to_create(self.P, IN, kind, "x@client.example", False, False, False, False)
            )

    def test_lead_type_follows_the_leads_setting(self):
        self.assertEqual(policy.lead_type(policy.LEAD, True), policy.LEAD)
        self.assertEqual(policy.lead_type(policy.LEAD, False), policy.OPPORTUNITY)
        self.assertEqual(policy.lead_type(policy.OPPORTUNITY, True), policy.OPPORTUNITY)
        self.assertEqual(policy.lead_type(policy.OPPORTUNITY, False), policy.OPPORTUNITY)

    def test_deals_to_link(self):
        deals = [(3, datetime(2026, 1, 5)), (9, datetime(2026, 3, 1)), (4, datetime(2026, 2, 1))]
        self.assertEqual(policy.deals_to_link(deals, policy.DEALS_ALL), ([3, 9, 4], False))
        self.assertEqual(policy.deals_to_link(deals, policy.DEALS_RECENT), ([9], False))
        self.assertEqual(policy.deals_to_link(deals, policy.DEALS_SINGLE), ([], True))
        self.assertEqual(policy.deals_to_link(deals[:1], policy.DEALS_SINGLE), ([3], False))
        self.assertEqual(policy.deals_to_link(deals, policy.DEALS_NONE), ([], False))
        self.assertEqual(policy.deals_to_link([], policy.DEALS_SINGLE), ([], False))

    def test_names(self):
        self.assertEqual(
            policy.clean_subject("Re: FW:  Offer   for 40 units"), "Offer for 40 units"
        )
        self.assertEqual(policy.clean_subject("Відп: Рахунок"), "Рахунок")
        self.assertEqual(policy.clean_subject("R: Preventivo"), "Preventivo")
        self.assertEqual(policy.clean_subject("  "), "")
        self.assertEqual(policy.contact_name("Олена Коваленко", "o@x.ua"), "Олена Коваленко")
        self.assertEqual(policy.contact_name("", "o@x.ua"), "o@x.ua")
        self.assertEqual(policy.contact_name("o@x.ua", "o@x.ua"), "o@x.ua")
        self.assertEqual(policy.company_name("G", "g@acme-tools.com"), "Acme Tools")
        self.assertEqual(policy.company_name("Giulia", "giulia@gmail.com"), "Giulia")

    def test_partner_values(self):
        self.assertEqual(
            policy.partner_values(policy.COMPANY, "Giulia", "g@acme-tools.com"),
            {"name": "Acme Tools", "is_company": True, "email": "g@acme-tools.com"},
        )
        self.assertEqual(
            policy.partner_values(policy.CONTACT, "Тарас Шевчук", "t@x.ua"),
            {"name": "Тарас Шевчук", "is_company": False, "email": "t@x.ua"},
        )

    def test_round_robin(self):
        self.assertEqual(policy.round_robin([2, 5, 9], None), 2)
        self.assertEqual(policy.round_robin([2, 5, 9], 5), 9)
        self.assertEqual(policy.round_robin([2, 5, 9], 9), 2)
        self.assertEqual(policy.round_robin([2, 5, 9], 6), 9)  # the last one left the team
        self.assertIsNone(policy.round_robin([], 5))

    def test_next_working_day(self):
        friday, saturday = date(2026, 11, 20), date(2026, 11, 21)
        self.assertEqual(policy.next_working_day(friday), date(2026, 11, 23))
        self.assertEqual(policy.next_working_day(saturday), date(2026, 11, 23))
        self.assertEqual(policy.next_working_day(date(2026, 11, 23)), date(2026, 11, 24))
        self.assertEqual(policy.next_working_day(saturday, 0), date(2026, 11, 23))
        self.assertEqual(policy.next_working_day(friday, 3), date(2026, 11, 25))

    def test_loop_guard(self):
        self.assertFalse(policy.loop_blocked(19, 20))
        self.assertTrue(policy.loop_blocked(20, 20))
        self.assertFalse(policy.loop_blocked(500, 0))


class TestSendAs(unittest.TestCase):
    def test_addresses_a_mailbox_may_send_as(self):
        self.assertEqual(
            policy.send_as_addresses(
                "Sales@My.Example", "login-not-an-address", "info@my.example,\n x@my.example;", None
            ),
            {"sales@my.example", "info@my.example", "x@my.example"},
        )
        self.assertIn(
            "me@my.example", policy.send_as_addresses(None, "box@my.example", "", "Me@my.example")
        )
        self.assertNotIn("ceo@my.example", policy.send_as_addresses("sales@my.example", "", "", ""))
