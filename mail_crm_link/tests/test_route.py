"""Issue 25, points 1 and 2: every mail says why it is where it is ("Why here?"), and a card
says which recent mail of its addresses is not on it, and why ("Why not?").

Each reason is walked by one mail through the real Dovecot and the real sync; the sentences
are read as a sales user, in English and in Ukrainian."""

import re

from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.mail_crm_link.mailflow import classify, explain, policy

from ..services.record_factory import ADDRESS_LOCK_NAMESPACE
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon

GIULIA = f"giulia.rossi@{CLIENT_DOMAIN}"


@tagged("post_install", "-at_install")
class TestExplainPure(MailCrmLinkCommon):
    """The pure parts: which rule decided, and every code worded."""

    def test_kind_why_names_the_rule(self):
        internal = {OUR_DOMAIN}
        cases = [
            ({}, "inbox", f"a@{CLIENT_DOMAIN}", (classify.CLIENT, "client")),
            ({"list-id": "<x.lists>"}, "inbox", f"a@{CLIENT_DOMAIN}", ("mailing_list", "header")),
            (
                {"auto-submitted": "auto-replied"},
                "inbox",
                f"a@{CLIENT_DOMAIN}",
                ("auto_reply", "header"),
            ),
            ({}, "inbox", f"mailer-daemon@{CLIENT_DOMAIN}", ("bounce", "sender")),
            ({}, "spam", f"a@{CLIENT_DOMAIN}", ("spam", "folder")),
        ]
        for headers, role, sender, expected in cases:
            found = classify.kind_why(
                headers, "incoming", sender, [f"s@{OUR_DOMAIN}"], internal, role
            )
            self.assertEqual(found[:2], expected, (headers, role, sender))
            self.assertEqual(
                found[0],
                classify.kind(headers, "incoming", sender, [f"s@{OUR_DOMAIN}"], internal, role),
            )
        self.assertEqual(
            classify.kind_why(
                {"auto-submitted": "auto-replied"}, "incoming", "a@x.example", [], set(), "inbox"
            )[2],
            "Auto-Submitted: auto-replied",
        )

    def test_to_create_why_agrees_with_to_create(self):
        rules = policy.Policy(incoming_unknown=policy.NOTHING)
        for args in [
            ("incoming", classify.CLIENT, "a@x.example", False, False, False, False),
            ("incoming", classify.CLIENT, "a@x.example", True, True, False, True),
            ("incoming", classify.CLIENT, "a@x.example", True, False, False, False),
            ("incoming", classify.CLIENT, "a@x.example", False, False, True, False),
            ("outgoing", classify.CLIENT, "a@x.example", False, False, False, False),
            ("outgoing", classify.CLIENT, "a@x.example", True, True, False, False),
            ("incoming", classify.INTERNAL, "a@x.example", False, False, False, False),
        ]:
            decision, why = policy.to_create_why(rules, *args)
            self.assertEqual(decision, policy.to_create(rules, *args))
            self.assertIn(
                why,
                {
                    *policy.SETTING_OF,
                    "not_client",
                    "thread",
                    "open_deal",
                    "known_lead_only",
                    "known_recipient",
                    "always_create",
                },
            )

    def test_every_code_has_a_sentence_in_every_language(self):
        langs = ("uk_UA", "ru_RU", "it_IT")
        for lang in langs:
            self.env["res.lang"]._activate_lang(lang)
        self.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            list(langs)
        )
        Explainer = self.env["mailbox.route.explainer"]
        english = Explainer._sentences()
        self.assertEqual(explain.codes() - set(english), set())
        for lang in langs:
            words = Explainer.with_context(lang=lang)._sentences()
            # every sentence of the catalogue: the codes, and the explainer's own variants
            # (the folder said once, the earlier mail unread, what was created)
            for code in english:
                self.assertNotEqual(words[code], english[code], f"{lang}: {code} not translated")
                # the same placeholders, so that wording never fails
                self.assertEqual(
                    sorted(re.findall(r"%\((\w+)\)s", words[code])),
                    sorted(re.findall(r"%\((\w+)\)s", english[code])),
                    f"{lang}: {code}",
                )

    def test_a_hostile_route_words_nothing_and_never_fails(self):
        for route in (
            None,
            [],
            "x",
            {"store": "x"},
            {"link": {"addresses": [{"a": 1}]}},
            {"notify": [[1, 2]]},
            {"store": {"kind": [1, 2]}},
            {"removed": [1, {"record": [1]}, {"record": ["x", "y"], "user": 2}]},
            {"link": {"threads": [1, [], ["x", "y"]], "addresses": [1, {}]}},
            {"triage": [1]},
            {"store": {"folder": ["INBOX"], "role": {"x": 1}}},
            {"removed": [{"record": ["crm.lead", 1], "user": 2, "date": ["x"], "deleted": 1}]},
        ):
            explain.lines(route, "client", [("crm.lead", 1)])
            explain.removals(route)
        # a folder or role that is not a string is said as one (the explainer looks it up)
        folder = explain.lines({"store": {"folder": ["INBOX"], "role": ["sent"]}})[0]
        self.assertEqual(folder, ("folder", {"folder": "['INBOX']", "role": "['sent']"}))

    def test_a_dismissal_is_the_present_only_while_the_mail_stays_dismissed(self):
        route = {"triage": explain.triaged(7, explain.DISMISSED)}
        self.assertEqual(explain.lines(route, state="ignored")[0][0], "triage_dismissed")
        self.assertEqual(explain.lines(route)[0][0], "triage_dismissed")  # state unknown
        # dismissed, linked by hand since, then taken off that record again: "new" now
        self.assertEqual(explain.lines(route, state="new")[0][0], "triage_dismissed_before")
        self.assertEqual(
            explain.lines(route, linked=[("crm.lead", 1)], state="linked")[0][0],
            "triage_dismissed_before",
        )

    def test_the_followers_told_are_said_in_one_line_per_record(self):
        key = ("crm.lead", 5)
        route = {
            "notify": [
                explain.notified(2, key, explain.AS_RESPONSIBLE),
                explain.notified(3, key, explain.AS_FOLLOWER),
                explain.notified(4, key, explain.AS_FOLLOWER),
                explain.notified(3, ("res.partner", 9), explain.AS_FOLLOWER),
            ]
        }
        said = explain.lines(route)
        self.assertEqual(
            [(code, params["user"].refs) for code, params in said],
            [
                ("notified_responsible", (("res.users", 2),)),
                ("notified_followers", (("res.users", 3), ("res.users", 4))),
                ("notified_followers", (("res.users", 3),)),
            ],
        )

    def test_an_ignore_from_the_queue_says_who_and_what(self):
        route = {
            "store": {"kind": ["client", "rule"]},
            "triage": explain.triaged(7, explain.IGNORED, "@robots.example"),
        }
        said = explain.lines(route, current_kind="excluded", state="ignored")
        codes = [code for code, _params in said]
        self.assertIn("triage_ignored", codes)
        self.assertNotIn("kind_changed", codes, "the Ignore line says why already")
        self.assertEqual(dict(said)["triage_ignored"]["entry"], "@robots.example")
        # linked since: history, and the kind change is said again
        later = [c for c, _p in explain.lines(route, "client", [("crm.lead", 1)], "linked")]
        self.assertIn("triage_ignored_before", later)
        # the entry was on the list already: the Ignore applied it, and says so
        self.assertEqual(
            explain.lines({"triage": [7, explain.IGNORED]}, state="ignored"),
            [("triage_applied", {"user": explain.Records((("res.users", 7),))})],
        )
        # a mail whose new kind is not Never Logged keeps its kind change
        other = [c for c, _p in explain.lines(route, current_kind="internal", state="ignored")]
        self.assertIn("kind_changed", other)

    def test_a_deletion_is_no_removal_by_hand(self):
        route = {
            "removed": [
                explain.removed(("crm.lead", 1), 2, "2026-01-02 03:04:05"),
                explain.removed(("crm.lead", 3), 2, "2026-01-02 03:04:05", deleted=True),
            ]
        }
        self.assertEqual(
            [code for code, _params in explain.lines(route)], ["removed", "removed_deleted"]
        )
        # "Why not?" offers no Link Here to a record that is gone
        self.assertEqual(explain.removals(route), [(("crm.lead", 1), 2, "2026-01-02 03:04:05")])

    def test_a_route_without_its_empty_lists_and_defaults_reads_the_same(self):
        """The writer may leave out empty lists and default values: the reader reads the
        same sentences as from the full value."""
        address = f"a@{CLIENT_DOMAIN}"
        full = {
            "v": 1,
            "store": {
                "folder": "",
                "role": "",
                "direction": ["incoming", "their_sender"],
                "kind": ["client", "client", ""],
                "private": False,
            },
            "link": {
                "mode": "auto",
                "history": False,
                "create": True,
                "addresses": [{"a": address, "m": [], "do": None, "why": None, "out": "nothing"}],
                "threads": [],
            },
            "notify": [],
        }
        short = {
            "store": {"direction": ["incoming", "their_sender"], "kind": ["client", "client"]},
            "link": {"addresses": [{"a": address}]},
        }
        self.assertEqual(explain.lines(short), explain.lines(full))
        self.assertIn(("address_unknown", {"address": address}), explain.lines(short))
        self.assertEqual(explain.lines({"store": {}})[0][0], "folder")


@tagged("post_install", "-at_install")
class TestWhyHere(MailCrmLinkCommon):
    """One mail per reason, through the real Dovecot, read as a sales user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("uk_UA")
        cls.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            ["uk_UA"]
        )
        cls.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 1)
        cls.contact_client.extra_email_ids = [(0, 0, {"email": f"g.rossi@home-{CLIENT_DOMAIN}"})]

    def lines(self, message, user=None, lang="en_US"):
        user = user or self.user_sales_manager
        message = message.with_user(user).with_context(lang=lang)
        return (
            self.env["mailbox.route.explainer"]
            .with_user(user)
            .with_context(lang=lang)
            ._lines(message)
        )

    def assertSays(self, message, *parts, user=None):
        text = "\n".join(self.lines(message, user))
        for part in parts:
            self.assertIn(part, text, f"{message.subject}: {text}")

    def test_each_reason_of_a_mail_through_dovecot(self):
        login = self.make_mail_user()
        corpus = self.corpus
        first = corpus.message(sender=("Giulia Rossi", GIULIA), subject="Order 40 units")
        raws = {
            "known": first,
            "other address": corpus.message(
                sender=("Giulia", f"g.rossi@home-{CLIENT_DOMAIN}"), subject="From home"
            ),
            "lead": corpus.message(
                sender=("Olena", f"olena.kovalenko@{CLIENT_DOMAIN}"), subject="About the lead"
            ),
            "unknown": corpus.message(
                sender=("Nuovo Cliente", f"nuovo@{CLIENT_DOMAIN}"), subject="New enquiry"
            ),
            "list": corpus.mailing_list(),
            "auto": corpus.auto_reply(to=login, sender=("Ivan", f"ivan@{CLIENT_DOMAIN}")),
            "bounce": corpus.bounce(f"nobody@{CLIENT_DOMAIN}"),
            "internal": corpus.internal(
                ("Anna", f"anna@{OUR_DOMAIN}"), ("Bob", f"bob@{OUR_DOMAIN}"), subject="Lunch"
            ),
            "never": corpus.message(sender=("Mum", "mum@family.example"), subject="Dinner"),
            "form 1": corpus.message(sender=("Form", "forms@website.example"), subject="Form 1"),
            "form 2": corpus.message(sender=("Form", "forms@website.example"), subject="Form 2"),
            "private": corpus.message(
                sender=("Lawyer", f"lawyer@private-{CLIENT_DOMAIN}"), subject="Confidential"
            ),
        }
        for raw in raws.values():
            self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(
            login,
            owner_id=self.user_sales_manager.id,
            never_log="family.example",
            always_create="forms@website.example",
            private_addresses=f"private-{CLIENT_DOMAIN}",
            deal_link_mode="single",
        )
        self.sync(mailbox)
        by_subject = {m.subject: m for m in self.stored(mailbox)}

        self.assertSays(
            by_subject["Order 40 units"],
            "Found in the folder INBOX.",
            "Incoming: its sender is not one of our addresses.",
            f"Client mail: its client side is {GIULIA}.",
            f"{GIULIA} is the address of Client Industries, Giulia Rossi.",
            f"{GIULIA} works for Client Industries.",
            "Client Industries: 40 units: an open deal of the client",
            f"Nothing created for {GIULIA}: the client has an open deal",
            "Part of the initial import: history, without Email activity or notification.",
            "Visibility: shown to the mailbox's users",
        )
        self.assertSays(
            by_subject["From home"],
            f"g.rossi@home-{CLIENT_DOMAIN} is one of the other addresses of",
        )
        self.assertSays(
            by_subject["About the lead"],
            "is the address of the lead Website enquiry.",
            "it is known as a lead or deal.",
        )
        new = by_subject["New enquiry"]
        made = new.link_ids.lead_id  # a deal where the CRM does not use leads
        kind = "lead" if made.type == "lead" else "deal"
        self.assertSays(
            new,
            f"nuovo@{CLIENT_DOMAIN} matched no contact, company, lead or deal.",
            f"Created the {kind} {made.display_name}. nuovo@{CLIENT_DOMAIN} was "
            "unknown and the policy creates a record for mail from an unknown sender.",
        )
        self.assertSays(
            by_subject["Industry Weekly #42"],
            "A mailing list's mail (List-Id: Industry Weekly",
        )
        self.assertSays(
            by_subject["Out of office: back on Monday"],
            "An automatic reply (Auto-Submitted: auto-replied)",
        )
        bounce = self.stored(mailbox, mail_kind="bounce")
        self.assertSays(bounce, "A delivery report (Content-Type: multipart/report")
        self.assertSays(by_subject["Lunch"], "Internal: every participant is one of our addresses")
        self.assertSays(by_subject["Dinner"], "never-log list (mum@family.example)")
        self.assertSays(by_subject["Form 1"], "is on the mailbox's always-create list.")
        self.assertSays(by_subject["Form 2"], "it sent more mail than the loop guard allows.")
        self.assertSays(
            by_subject["Confidential"],
            "Visibility: private, shown only to the mailbox's owner",
        )
        # live mail (after the initial import) tells the deal's responsible
        self.dovecot.append(
            login, corpus.message(sender=("Giulia Rossi", GIULIA), subject="Delivery date?")
        )
        self.sync(mailbox)
        live = self.stored(mailbox, subject="Delivery date?")
        self.assertSays(
            live,
            f"{self.user_sales_salesman.name} was told, as the responsible of Client "
            "Industries: 40 units.",
        )
        self.assertNotIn("initial import", "\n".join(self.lines(live)))
        # a reply sent later joins its thread
        self.dovecot.append(
            login, corpus.reply(first, sender=("Sales", login), body="Confirmed."), folder="Sent"
        )
        self.sync(mailbox)
        reply = self.stored(mailbox, direction="outgoing", subject="Re: Order 40 units")
        self.assertSays(
            reply,
            "Found in the folder Sent.",
            "Outgoing: it is in the Sent folder.",
            "It answers the mail \u201cOrder 40 units\u201d of ",
            "already on",
            f"Nothing created for {GIULIA}: the address is already known.",
        )
        said = "\n".join(self.lines(reply))
        self.assertNotIn("Sent (Sent)", said)
        self.assertNotIn(by_subject["Order 40 units"].message_id, said, "no raw Message-ID")
        # the earlier mail not the reader's to read: neither its subject nor its Message-ID
        by_subject["Order 40 units"].sudo().private = True
        said = "\n".join(self.lines(reply, user=self.user_sales_salesman))
        self.assertIn("It answers an earlier mail, already on", said)
        self.assertNotIn("Order 40 units", said.replace("Re: Order 40 units", ""))
        self.assertNotIn(by_subject["Order 40 units"].message_id, said)
        by_subject["Order 40 units"].sudo().private = False

        # translated at display time, in the reader's language
        ukrainian = "\n".join(self.lines(by_subject["Order 40 units"], lang="uk_UA"))
        self.assertNotIn("Found in the folder", ukrainian)
        self.assertIn("INBOX", ukrainian)
        self.assertNotIn("INBOX (", ukrainian, "INBOX is the inbox in every language")

        # a record the reader may not read is never named: the own-documents salesman and the
        # lead of a colleague
        text = "\n".join(self.lines(by_subject["About the lead"], user=self.user_sales_salesman))
        self.assertNotIn("Website enquiry", text)

        # strict visibility, and the manual mode
        mailbox.strict_visibility = True
        self.assertSays(by_subject["Order 40 units"], "Visibility: strict")
        # shown on the mail form and on the card's timeline
        self.assertIn("Found in the folder", by_subject["Order 40 units"].route_html)
        timeline = (
            self.env["mailbox.timeline"]
            .with_user(self.user_sales_manager)
            .read_timeline("res.partner", self.contact_client.id)
        )
        whys = {m["subject"]: m["why"] for m in timeline["mails"]}
        self.assertTrue(any("Found in the folder" in line for line in whys["Order 40 units"]))

    def test_manual_mode_and_relink_say_so(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login, self.corpus.message(sender=("Giulia", GIULIA), subject="By hand only")
        )
        mailbox = self.make_mailbox(login, crm_link_mode="manual")
        self.sync(mailbox)
        message = self.stored(mailbox)
        self.assertIn("The mailbox links mail by hand only", "\n".join(self.lines(message)))
        mailbox.crm_link_mode = "auto"
        message.with_user(self.user_sales_manager).action_relink()
        after = "\n".join(self.lines(message))
        self.assertIn("Re-link", after)
        self.assertIn("The mailbox links mail by hand only", after, "the first decision stays")
        self.assertNotIn("initial import", after, "a Re-link is no import")
        message.link_ids.unlink()
        self.env["mailbox.message.link"].with_user(self.user_sales_manager)._add_links(
            message, self.company_client
        )
        self.assertIn("Linked by hand to Client Industries by", "\n".join(self.lines(message)))


@tagged("post_install", "-at_install")
class TestWhyNot(MailCrmLinkCommon):
    """ "Why not?" on a card: one mail per reason, through the real Dovecot."""

    def why_not(self, record, user=None):
        user = user or self.user_sales_manager
        action = record.with_user(user).action_mcl_why_not()
        return self.env["mailbox.why.not"].with_user(user).browse(action["res_id"])

    def reasons(self, wizard):
        return {line.subject: line.reason for line in wizard.line_ids}

    def test_each_reason_a_mail_is_not_on_the_card(self):
        home = f"g.rossi@home-{CLIENT_DOMAIN}"
        later = f"giulia@later-{CLIENT_DOMAIN}"
        us = ("Sales", f"sales@{OUR_DOMAIN}")
        corpus = self.corpus
        login = self.make_mail_user()
        for raw in [
            corpus.message(sender=("Giulia", GIULIA), subject="On the card"),
            corpus.message(sender=("Giulia", GIULIA), subject="Linked elsewhere"),
            corpus.message(
                sender=("Giulia", GIULIA),
                subject="Giulia's newsletter",
                extra_headers={"List-Id": "<news.client.example>"},
            ),
            corpus.message(
                sender=("Giulia", GIULIA),
                subject="Away",
                extra_headers={"Auto-Submitted": "auto-replied"},
            ),
            corpus.message(sender=("Giulia", home), subject="From home"),
            corpus.message(sender=("Giulia", later), subject="Before the address was known"),
            corpus.message(sender=("Giulia", GIULIA), to=us, subject="In the junk"),
            (
                f"From: Giulia <{GIULIA}>\r\nTo: sales@{OUR_DOMAIN}\r\nSubject: Unreadable\r\n"
                f"Message-ID: <unreadable@{CLIENT_DOMAIN}>\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/mixed; boundary="never"\r\n\r\n'
                "--never--\r\n"  # a multipart without a part: nothing can be read
            ).encode(),
        ]:
            self.dovecot.append(login, raw)
        colleague = self.env["res.partner"].create({"name": "Bob", "email": f"bob@{OUR_DOMAIN}"})
        self.dovecot.append(
            login, corpus.internal(("Anna", f"anna@{OUR_DOMAIN}"), ("Bob", colleague.email))
        )
        mailbox = self.make_mailbox(
            login,
            owner_id=self.user_sales_manager.id,
            never_log=home,
            import_days=30,
            incoming_unknown_action="none",
        )
        self.sync(mailbox)
        by_subject = {m.subject: m for m in self.stored(mailbox)}
        # a mail that went to a spam folder afterwards: classified again, on no card
        junk = by_subject["In the junk"]
        junk.link_ids.unlink()
        junk.state = "new"
        junk.folder_id = self.env["mailbox.folder"].create(
            {
                "mailbox_id": mailbox.id,
                "name": "Junk2",
                "label": "Junk",
                "role": "spam",
                "sync": False,
            }
        )
        junk.with_user(self.user_sales_manager).action_relink()
        # a mail taken off the card and put on another record
        elsewhere = by_subject["Linked elsewhere"]
        other = self.env["crm.lead"].create({"name": "Somewhere else", "type": "lead"})
        elsewhere.link_ids.unlink()
        self.env["mailbox.message.link"]._add_links(elsewhere, other)
        # an address given to the contact after its mail arrived
        self.contact_client.extra_email_ids = [(0, 0, {"email": home}), (0, 0, {"email": later})]

        manual_login = self.make_mail_user()
        self.dovecot.append(
            manual_login, corpus.message(sender=("Giulia", GIULIA), subject="By hand only")
        )
        self.sync(self.make_mailbox(manual_login, crm_link_mode="manual"))
        private_login = self.make_mail_user()
        self.dovecot.append(
            private_login, corpus.message(sender=("Giulia", GIULIA), subject="Private talk")
        )
        self.sync(
            self.make_mailbox(
                private_login, owner_id=self.user_sales_manager.id, private_addresses=GIULIA
            )
        )

        wizard = self.why_not(self.contact_client)
        self.assertEqual(
            self.reasons(wizard),
            {
                "Linked elsewhere": "linked_elsewhere",
                "Giulia's newsletter": "mailing_list",
                "Away": "auto_reply",
                "From home": "never_log",
                "Before the address was known": "matched_nothing",
                "In the junk": "spam",
                "Unreadable": "error",
                "By hand only": "mode_manual",
                "Private talk": "private",
            },
        )
        self.assertIn("outside the import window", wizard.note_html)
        self.assertIn(GIULIA, wizard.addresses)
        self.assertEqual(self.reasons(self.why_not(colleague)), {"Lunch?": "internal"})

        # the action puts the mail on the card, and the list says so
        for subject in ("Linked elsewhere", "Before the address was known", "By hand only"):
            line = wizard.line_ids.filtered(lambda li, s=subject: li.subject == s)
            self.assertTrue(line.can_link, subject)
            line.action_link_here()
            self.assertNotIn(subject, wizard.line_ids.mapped("subject"))
        self.assertIn(self.contact_client, elsewhere.link_ids.partner_id)
        for line in wizard.line_ids.filtered(lambda li: li.reason in ("error", "private")):
            self.assertFalse(line.can_link, line.subject)

        # an own-documents salesman: the private mail is not theirs to see, nor to link
        salesman = self.why_not(self.contact_client, self.user_sales_salesman)
        self.assertNotIn("Private talk", self.reasons(salesman))

    def test_why_not_only_within_the_users_rights(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login,
            self.corpus.message(
                sender=("Giulia", GIULIA),
                subject="Newsletter",
                extra_headers={"List-Id": "<n.client.example>"},
            ),
        )
        mailbox = self.make_mailbox(login, owner_id=self.user_sales_manager.id)
        self.sync(mailbox)
        with self.assertRaises(AccessError):  # no CRM right: no card, no wizard
            self.contact_client.with_user(self.user_no_crm).action_mcl_why_not()
        # a line made over RPC naming a mail the user may not read is refused
        private = self.stored(mailbox)
        private.sudo().private = True
        Wizard = self.env["mailbox.why.not"].with_user(self.user_sales_salesman)
        wizard = Wizard.create({"res_model": "res.partner", "res_id": self.contact_client.id})
        with self.assertRaises(AccessError):
            self.env["mailbox.why.not.line"].with_user(self.user_sales_salesman).create(
                {"wizard_id": wizard.id, "message_id": private.id, "reason": "private"}
            )
        # a wizard on a card the user may not read says nothing of it
        secret = self.env["crm.lead"].create(
            {"name": "Colleague's deal", "user_id": self.user_sales_leads.id}
        )
        hostile = Wizard.create({"res_model": "crm.lead", "res_id": secret.id})
        with self.assertRaises(AccessError):
            hostile.action_refresh()
        with self.assertRaises(ValueError):  # not a card
            Wizard.create({"res_model": "res.users", "res_id": 1})
        # a colleague's "Why not?" and its lines are theirs only (review of issue 25, H1)
        mine = self.why_not_of(self.contact_client, self.user_sales_manager)
        other = self.env["mailbox.why.not"].with_user(self.user_sales_salesman)
        self.assertFalse(other.search([("id", "=", mine.id)]))
        self.assertFalse(
            self.env["mailbox.why.not.line"]
            .with_user(self.user_sales_salesman)
            .search([("wizard_id", "=", mine.id)])
        )
        with self.assertRaises(AccessError):
            other.browse(mine.id).action_refresh()
        with self.assertRaises(AccessError):
            self.env["mailbox.why.not.line"].with_user(self.user_sales_salesman).create(
                {"wizard_id": mine.id, "message_id": self.stored(mailbox).id}
            )

    def why_not_of(self, record, user):
        action = record.with_user(user).action_mcl_why_not()
        return self.env["mailbox.why.not"].with_user(user).browse(action["res_id"])

    def test_why_not_matches_whole_addresses_only(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login,
            self.corpus.message(
                sender=("Sales", f"sales@{OUR_DOMAIN}"),
                to=("Jim", f"jim{GIULIA}"),
                subject="To another person",
            ),
            folder="Sent",
        )
        self.sync(self.make_mailbox(login))
        wizard = self.why_not_of(self.contact_client, self.user_sales_manager)
        self.assertNotIn("To another person", wizard.line_ids.mapped("subject"))


@tagged("post_install", "-at_install")
class TestWhyHereSince(MailCrmLinkCommon):
    """What happened to a mail after the pipeline decided (a removal by hand, a dismissal
    undone, a decision still waiting) is said, and said in the right tense."""

    def lines(self, message, user=None):
        user = user or self.user_sales_manager
        explainer = self.env["mailbox.route.explainer"].with_user(user)
        return "\n".join(explainer._lines(message.with_user(user)))

    def why_not(self, record, user=None):
        user = user or self.user_sales_manager
        action = record.with_user(user).action_mcl_why_not()
        return self.env["mailbox.why.not"].with_user(user).browse(action["res_id"])

    def test_a_removal_by_hand_is_said_and_is_the_reason_why_not(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login, self.corpus.message(sender=("Giulia", GIULIA), subject="Taken off")
        )
        self.dovecot.append(
            login, self.corpus.message(sender=("Giulia", GIULIA), subject="Off everything")
        )
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        manager = self.user_sales_manager
        deal = self.opportunity_client
        taken = self.stored(mailbox, subject="Taken off")
        self.assertIn(deal, taken.link_ids.lead_id)
        # "Remove from card" on the deal's card
        taken.with_user(manager).with_context(
            mcl_res_model="crm.lead", mcl_res_id=deal.id
        ).action_remove_from_record()
        self.assertNotIn(deal, taken.link_ids.lead_id)
        said = self.lines(taken)
        self.assertIn(f"Removed from {deal.display_name} by {manager.name} on ", said)
        self.assertIn("is the address of", said, "what the pipeline decided stays")
        # every link of a mail at once: one entry each, in one write of the mail
        every = self.stored(mailbox, subject="Off everything")
        targets = {(link._target()._name, link._target().id) for link in every.link_ids}
        self.assertGreaterEqual(len(targets), 2)
        every.link_ids.with_user(manager).action_remove()
        self.assertEqual(
            {record for record, _user, _date in explain.removals(every.route)}, targets
        )
        self.assertEqual(every.state, "new")
        self.assertEqual(said.count("Removed from"), 1)

        # "Why not?" on the card: removed by hand, by whom, and "Link Here" puts it back
        wizard = self.why_not(deal)
        line = wizard.line_ids.filtered(lambda li: li.subject == "Taken off")
        self.assertEqual(line.reason, "removed")
        self.assertIn(manager.name, line.detail)
        self.assertIn("took it off this card by hand", line.advice)
        self.assertTrue(line.can_link)
        off = wizard.line_ids.filtered(lambda li: li.subject == "Off everything")
        self.assertEqual(off.reason, "removed")
        line.action_link_here()
        self.assertIn(deal, taken.link_ids.lead_id)
        # linked to it again: the removal is history, not a contradiction
        said = self.lines(taken)
        self.assertIn(f"Earlier removed from {deal.display_name} by {manager.name} on ", said)
        self.assertIn("linked to it again since.", said)
        self.assertNotIn("\nRemoved from", "\n" + said)
        self.assertIn(f"Linked by hand to {deal.display_name}", said)

    def test_deleting_a_record_is_said_and_costs_no_statement_per_mail(self):
        login = self.make_mail_user()
        for i in range(30):
            self.dovecot.append(
                login,
                self.corpus.message(sender=("Newcomer", f"n{i}@{CLIENT_DOMAIN}"), subject=f"M{i}"),
            )
        mailbox = self.make_mailbox(login, incoming_unknown_action="none")
        self.sync(mailbox)
        mails = self.stored(mailbox).sorted("id")
        self.assertEqual(len(mails), 30)
        manager = self.user_sales_manager
        Lead = self.env["crm.lead"].with_user(manager)
        few, many, warm = Lead.create([{"name": n} for n in ("Few", "Many", "Warm")])
        Link = self.env["mailbox.message.link"].with_user(manager)
        Link._add_links(mails[:2].with_user(manager), warm)
        Link._add_links(mails[2:7].with_user(manager), few)
        Link._add_links(mails[7:].with_user(manager), many)
        self.assertEqual(set(mails.mapped("state")), {"linked"})

        def unlink_cost(lead):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            lead.unlink()
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        unlink_cost(warm)  # caches of the registry warmed once
        small, large = unlink_cost(few), unlink_cost(many)
        self.assertLessEqual(large, small, f"5 mails: {small} queries, 23 mails: {large}")
        self.assertEqual(set(mails.mapped("state")), {"new"})
        self.assertFalse(mails.link_ids)
        self.assertTrue(all(mail.with_user(manager).in_triage for mail in mails))
        said = self.lines(mails[-1])
        self.assertIn(f"The record it was on was deleted by {manager.name} on ", said)
        self.assertNotIn("Removed from", said)
        self.assertEqual(explain.removals(mails[-1].route), [], "no Link Here to a deleted lead")

    def test_a_route_edited_into_no_object_is_replaced_on_removal(self):
        login = self.make_mail_user()
        self.dovecot.append(
            login, self.corpus.message(sender=("Newcomer", f"hand@{CLIENT_DOMAIN}"), subject="M")
        )
        mailbox = self.make_mailbox(login, incoming_unknown_action="none")
        self.sync(mailbox)
        mail = self.stored(mailbox)
        manager = self.user_sales_manager
        lead = self.env["crm.lead"].with_user(manager).create({"name": "Edited"})
        self.env["mailbox.message.link"].with_user(manager)._add_links(
            mail.with_user(manager), lead
        )
        self.env.flush_all()
        # an administrator edited the stored route by hand into a list: the removal's
        # SQL merge replaces it (as the ORM write did) instead of appending to it
        self.env.cr.execute(
            "UPDATE mailbox_message SET route = '[\"hand\"]'::jsonb WHERE id = %s", [mail.id]
        )
        mail.invalidate_recordset(["route"])
        lead.unlink()
        self.assertIsInstance(mail.route, dict)
        self.assertEqual([entry[0] for entry in explain.removals(mail.route)], [])
        self.assertIn(f"The record it was on was deleted by {manager.name} on ", self.lines(mail))

    def test_a_dismissal_undone_by_a_later_link_is_history(self):
        login = self.make_mail_user()
        newcomer = f"newcomer@{CLIENT_DOMAIN}"
        self.dovecot.append(
            login, self.corpus.message(sender=("Newcomer", newcomer), subject="Hello there")
        )
        mailbox = self.make_mailbox(login, incoming_unknown_action="none")
        self.sync(mailbox)
        mail = self.stored(mailbox)
        self.assertTrue(mail.in_triage)
        manager = self.user_sales_manager
        mail.with_user(manager).action_triage_dismiss()
        self.assertIn(f"{manager.name} took it off the triage queue", self.lines(mail))
        # the correspondent becomes known, and Re-link puts the mail on the card
        self.env["res.partner"].create({"name": "Newcomer", "email": newcomer})
        mail.with_user(manager).action_relink()
        self.assertEqual(mail.state, "linked")
        said = self.lines(mail)
        self.assertNotIn(f"{manager.name} took it off the triage queue", said)
        self.assertIn(f"Earlier, {manager.name} had taken it off the triage queue", said)
        self.assertIn("it has been linked since.", said)
        # taken off that card again: back in the queue, and the dismissal is still history
        mail.link_ids.with_user(manager).action_remove()
        self.assertEqual(mail.state, "new")
        said = self.lines(mail)
        self.assertNotIn(f"{manager.name} took it off the triage queue", said)
        self.assertIn(f"Earlier, {manager.name} had taken it off the triage queue", said)

    def test_a_waiting_decision_says_what_it_waits_for(self):
        login = self.make_mail_user()
        busy = f"busy.now@{CLIENT_DOMAIN}"
        self.dovecot.append(login, self.corpus.message(sender=("Busy", busy), subject="Racing"))
        mailbox = self.make_mailbox(login)
        with self.registry.cursor() as other:  # another worker is creating busy's record
            other.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADDRESS_LOCK_NAMESPACE, busy]
            )
            self.sync(mailbox)
            other.rollback()
        mail = self.stored(mailbox)
        self.assertTrue(mail.link_deferred)
        said = self.lines(mail)
        self.assertIn(f"Not decided yet for {busy}: another worker is creating its record", said)
        self.assertIn("Not linked yet: the decision waits for the other worker to finish", said)
        self.assertNotIn("was linked again", said)
        self.assertNotIn("Created", said)
        # the next pass links it: the waiting is over, and the words say what was done
        self.sync(mailbox)
        self.assertFalse(mail.link_deferred)
        said = self.lines(mail)
        self.assertNotIn("Not linked yet", said)
        made = mail.link_ids.lead_id
        self.assertIn(f"Created the {'lead' if made.type == 'lead' else 'deal'} {made.name}.", said)

    def test_created_says_what_kind_of_record(self):
        for action, kind in (
            ("opportunity", "deal"),
            ("contact", "contact"),
            ("company", "company"),
        ):
            login = self.make_mail_user()
            address = f"new.{kind}@{kind}-{CLIENT_DOMAIN}"
            self.dovecot.append(
                login, self.corpus.message(sender=("Nuovo", address), subject=f"New {kind}")
            )
            mailbox = self.make_mailbox(login, incoming_unknown_action=action)
            self.sync(mailbox)
            mail = self.stored(mailbox)
            record = mail.link_ids.lead_id or mail.link_ids.partner_id.filtered(
                lambda p, k=kind: p.is_company == (k == "company")
            )
            self.assertEqual(len(record), 1, kind)
            self.assertIn(
                f"Created the {kind} {record.display_name}. {address} was unknown",
                self.lines(mail),
            )
        # a lead converted into a deal since: said as what it is now
        login = self.make_mail_user()
        self.dovecot.append(
            login, self.corpus.message(sender=("L", f"later.deal@{CLIENT_DOMAIN}"), subject="L")
        )
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        mail = self.stored(mailbox)
        lead = mail.link_ids.lead_id
        lead.type = "lead"
        self.assertIn(f"Created the lead {lead.display_name}.", self.lines(mail))
        lead.type = "opportunity"
        self.assertIn(f"Created the deal {lead.display_name}.", self.lines(mail))
        # not the reader's to read: neither its name nor its kind
        lead.user_id = self.user_sales_leads
        said = self.lines(mail, user=self.user_sales_salesman)
        self.assertIn("Created a record you may not read.", said)


@tagged("post_install", "-at_install")
class TestWhyHereCost(MailCrmLinkCommon):
    """The explanation of a page of mail costs the same few queries whatever its size."""

    def test_a_page_is_worded_at_once(self):
        login = self.make_mail_user()
        company = self.company_client
        people = self.env["res.partner"].create(
            [
                {"name": f"P{i}", "email": f"person{i}@{CLIENT_DOMAIN}", "parent_id": company.id}
                for i in range(20)
            ]
        )
        firsts = []
        for i, person in enumerate(people):
            raw = self.corpus.message(sender=(person.name, person.email), subject=f"Order {i}")
            firsts.append(raw)
            self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login, owner_id=self.user_sales_manager.id)
        self.sync(mailbox)
        for i, raw in enumerate(firsts):  # each answered: a thread sentence per mail
            self.dovecot.append(
                login,
                self.corpus.reply(raw, sender=("Sales", login), body=f"Noted {i}."),
                folder="Sent",
            )
        self.sync(mailbox)
        mails = self.stored(mailbox)
        self.assertEqual(len(mails), 40)
        self.env["mailbox.message.link"]._add_links(mails[:3], self.opportunity_client)
        Timeline = self.env["mailbox.timeline"].with_user(self.user_sales_manager)

        def timeline_cost(limit):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            page = Timeline.read_timeline("res.partner", company.id, limit=limit)
            return self.env.cr.sql_log_count - before, page

        timeline_cost(5)  # caches of the registry (translations, rules) warmed once
        small, page = timeline_cost(5)
        large, page = timeline_cost(20)
        self.assertEqual(len(page["mails"]), 20)
        self.assertTrue(all(mail["why"] for mail in page["mails"]))
        self.assertTrue(any("It answers the mail" in " ".join(m["why"]) for m in page["mails"]))
        self.assertLessEqual(large, small, f"5 mails: {small} queries, 20 mails: {large}")

        Message = self.env["mailbox.message"].with_user(self.user_sales_manager)

        def html_cost(records):
            self.env.flush_all()
            self.env.invalidate_all()
            records = Message.browse(records.ids)
            before = self.env.cr.sql_log_count
            htmls = records.mapped("route_html")
            return self.env.cr.sql_log_count - before, htmls

        html_cost(mails[:5])
        small, _htmls = html_cost(mails[:5])
        large, htmls = html_cost(mails[:20])
        self.assertTrue(all("Found in the folder" in html for html in htmls))
        self.assertLessEqual(large, small, f"5 mails: {small} queries, 20 mails: {large}")


@tagged("post_install", "-at_install")
class TestRouteHtmlFollowsTheRoute(MailCrmLinkCommon):
    """``route_html`` is worded from ``route``; the pipeline writes ``route`` by raw SQL
    (``mailbox.crm.linker._write_routes``), so the wording must be dropped with it."""

    def test_route_html_is_not_stale_after_the_pipeline_writes_the_route(self):
        login = self.make_mail_user()
        self.dovecot.append(login, self.corpus.message(sender=("Giulia", GIULIA), subject="X"))
        mailbox = self.make_mailbox(login)
        self.sync(mailbox)
        mail = self.stored(mailbox)
        self.assertNotIn("triage queue", mail.route_html)  # worded, and kept in the cache
        self.env["mailbox.crm.linker"]._write_routes(
            {mail.id: {"triage": explain.triaged(self.env.uid, explain.DISMISSED)}}
        )
        self.assertIn("triage queue", mail.route_html)
