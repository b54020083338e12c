"""The triage queue (issue 25, point 3): client mail that matched nothing and created nothing,
brought by the real Dovecot into a mailbox that creates nothing for unknown senders, and what
a sales user does with it: link it through a suggestion, make a lead of it, ignore its sender
or domain from now on, dismiss it. Rights are checked the way an RPC caller would call."""

import unittest
from datetime import datetime

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from ..mailflow import classify, policy, triage
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkCommon

ROBOT = "news@robot-sender.example"
PROSPECT = "anna.verdi@prospect.example"
MARCO = f"marco.bianchi@{CLIENT_DOMAIN}"
GMAIL = "someone.private@gmail.com"


class TestTriageRules(unittest.TestCase):
    """mailflow.triage: plain values in, plain values out."""

    def cand(self, model, res_id, *emails, **flags):
        return triage.Candidate(key=(model, res_id), addresses=frozenset(emails), **flags)

    def test_suggestion_domain_is_a_clients_only(self):
        self.assertEqual(triage.suggestion_domain("Marco <Marco@Client.Example>"), "client.example")
        self.assertEqual(triage.suggestion_domain(GMAIL), "")
        self.assertEqual(triage.suggestion_domain("x@yandex.ru"), "")
        self.assertEqual(triage.suggestion_domain(f"me@{OUR_DOMAIN}", {OUR_DOMAIN}), "")
        self.assertEqual(triage.suggestion_domain(f"me@eu.{OUR_DOMAIN}", {OUR_DOMAIN}), "")
        self.assertEqual(triage.suggestion_domain(""), "")

    def test_rank_orders_by_reason_then_recency(self):
        early, late = datetime(2026, 1, 1), datetime(2026, 3, 1)
        ranked = triage.rank(
            MARCO,
            [
                self.cand("res.partner", 1, f"giulia@{CLIENT_DOMAIN}"),  # domain
                self.cand("crm.lead", 2, correspondent=True, seen=early),
                self.cand("crm.lead", 3, thread=True, seen=early),
                self.cand("res.partner", 4, MARCO),  # the very address
                self.cand("crm.lead", 5, correspondent=True, seen=late),
                self.cand("res.partner", 6, "someone@elsewhere.example"),  # no reason
            ],
        )
        self.assertEqual(
            [c.key[1] for c, _why in ranked], [3, 4, 5, 2, 1], "thread, address, recent, domain"
        )
        self.assertEqual(ranked[0][1], [triage.THREAD])
        self.assertEqual(ranked[-1][1], [triage.DOMAIN])

    def test_rank_adds_reasons_and_merges_a_record_met_twice(self):
        ranked = triage.rank(
            MARCO,
            [
                self.cand("crm.lead", 7, f"info@{CLIENT_DOMAIN}"),
                self.cand("crm.lead", 7, correspondent=True, seen=datetime(2026, 1, 2)),
                self.cand("crm.lead", 8, correspondent=True, seen=datetime(2026, 2, 1)),
            ],
        )
        self.assertEqual(len(ranked), 2)
        self.assertEqual(ranked[0][0].key, ("crm.lead", 7), "two reasons beat one, recent")
        self.assertEqual(ranked[0][1], [triage.CORRESPONDENT, triage.DOMAIN])

    def test_no_domain_suggestion_for_mail_providers(self):
        ranked = triage.rank(GMAIL, [self.cand("res.partner", 1, "other.person@gmail.com")])
        self.assertEqual(ranked, [], "two gmail.com senders are not one client")
        ranked = triage.rank(GMAIL, [self.cand("res.partner", 2, GMAIL)])
        self.assertEqual(ranked[0][1], [triage.ADDRESS])

    def test_rank_limit(self):
        many = [self.cand("res.partner", i, f"p{i}@{CLIENT_DOMAIN}") for i in range(30)]
        self.assertEqual(len(triage.rank(MARCO, many)), triage.SUGGESTIONS)
        self.assertEqual(triage.rank(MARCO, many, limit=-5), [])

    def test_never_log_entry(self):
        entry = triage.never_log_entry
        self.assertEqual(entry("News <News@Robot-Sender.Example>", triage.SENDER), (ROBOT, None))
        self.assertEqual(entry(ROBOT, triage.WHOLE_DOMAIN), ("@robot-sender.example", None))
        self.assertEqual(entry(GMAIL, triage.SENDER), (GMAIL, None), "one gmail user: fine")
        self.assertEqual(entry(GMAIL, triage.WHOLE_DOMAIN), ("", triage.GENERIC))
        ours = {OUR_DOMAIN}
        for scope in (triage.SENDER, triage.WHOLE_DOMAIN):
            self.assertEqual(entry(f"boss@{OUR_DOMAIN}", scope, ours), ("", triage.OURS))
            self.assertEqual(entry("", scope), ("", triage.NO_ADDRESS))
            self.assertEqual(entry("not an address", scope), ("", triage.NO_ADDRESS))
        listed = frozenset({"robot-sender.example"})
        self.assertEqual(entry(ROBOT, triage.SENDER, listed=listed), ("", triage.ALREADY))
        self.assertEqual(entry(ROBOT, triage.WHOLE_DOMAIN, listed=listed), ("", triage.ALREADY))
        self.assertEqual(triage.add_entry("", "@x.example"), "@x.example")
        self.assertEqual(triage.add_entry("a@b.example\n", "@x.example"), "a@b.example\n@x.example")


@tagged("post_install", "-at_install")
class TestTriageQueue(MailCrmLinkCommon):
    """Mail through the real Dovecot into a personal mailbox of the own-documents salesman,
    whose policy creates nothing."""

    def queue_mailbox(self, **values):
        login = self.make_mail_user()
        mails = {
            "marco": self.corpus.message(sender=("Marco Bianchi", MARCO), subject="Preventivo"),
            "anna": self.corpus.message(sender=("Anna Verdi", PROSPECT), subject="Catalogo"),
            "robot1": self.corpus.message(sender=("Robot News", ROBOT), subject="Offerte 1"),
            "robot2": self.corpus.message(sender=("Robot News", ROBOT), subject="Offerte 2"),
            "gmail": self.corpus.message(sender=("Private Person", GMAIL), subject="Ciao"),
            "known": self.corpus.message(
                sender=("Giulia Rossi", self.contact_client.email), subject="Ordine"
            ),
            "internal": self.corpus.internal(
                ("Boss", f"boss@{OUR_DOMAIN}"), ("Sales", f"sales@{OUR_DOMAIN}")
            ),
        }
        for raw in mails.values():
            self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(
            login,
            mailbox_access="personal",
            owner_id=self.user_sales_salesman.id,
            member_ids=[(6, 0, self.user_sales_leads.ids)],
            incoming_unknown_action=policy.NOTHING,
            outgoing_unknown_action=policy.NOTHING,
            known_action=policy.NOTHING,
            **values,
        )
        self.assertFalse(self.sync(mailbox).get("error"))
        by_subject = {m.subject: m for m in self.stored(mailbox)}
        subjects = {
            "marco": "Preventivo",
            "anna": "Catalogo",
            "robot1": "Offerte 1",
            "robot2": "Offerte 2",
            "gmail": "Ciao",
            "known": "Ordine",
            "internal": "Lunch?",
        }
        return mailbox, {key: by_subject[subject] for key, subject in subjects.items()}

    def as_user(self, records, user):
        return records.with_user(user).with_context(lang="en_US")

    def queue(self, mailbox, user):
        return (
            self.env["mailbox.message"]
            .with_user(user)
            .search([("mailbox_id", "=", mailbox.id), ("in_triage", "=", True)])
        )

    # -- the queue ---------------------------------------------------------------------------
    def test_queue_holds_unmatched_client_mail_for_who_may_read_it(self):
        mailbox, mail = self.queue_mailbox()
        queued = mail["marco"] | mail["anna"] | mail["robot1"] | mail["robot2"] | mail["gmail"]
        self.assertEqual(mail["known"].state, "linked")
        self.assertEqual(mail["internal"].mail_kind, classify.INTERNAL)
        owner = self.user_sales_salesman
        self.assertEqual(self.queue(mailbox, owner), queued)
        self.assertEqual(self.as_user(mailbox, owner).triage_count, 5)
        self.assertTrue(all(self.as_user(queued, owner).mapped("in_triage")))
        self.assertFalse(self.as_user(mail["known"], owner).in_triage)
        # the negation of the filter: everything else of the mailbox
        others = self.env["mailbox.message"].search(
            [("mailbox_id", "=", mailbox.id), ("in_triage", "=", False)]
        )
        self.assertEqual(others, mail["known"] | mail["internal"])
        # a member it is shared with sees the queue too; a colleague without it sees nothing
        self.assertEqual(self.queue(mailbox, self.user_sales_leads), queued)
        colleague = mail_new_test_user(
            self.env, login="triage_other_salesman", groups="sales_team.group_sale_salesman"
        )
        self.assertFalse(self.queue(mailbox, colleague))
        self.assertEqual(self.as_user(mailbox, colleague).triage_count, 0)
        with self.assertRaises(AccessError):
            self.queue(mailbox, self.user_no_crm)
        # the smart button opens that mailbox's queue, as the user reads it
        action = self.as_user(mailbox, owner).action_mcl_triage()
        self.assertEqual(action["res_model"], "mailbox.message")
        self.assertEqual(
            self.env["mailbox.message"]
            .with_user(owner)
            .search([*action["domain"], ("in_triage", "=", True)]),
            queued,
        )
        with self.assertRaises(AccessError):
            self.as_user(mailbox, colleague).action_mcl_triage()

    def test_link_through_a_suggestion(self):
        mailbox, mail = self.queue_mailbox()
        owner = self.user_sales_salesman
        action = self.as_user(mail["marco"], owner).action_triage_link()
        wizard = self.env["mailbox.link.wizard"].with_user(owner).browse(action["res_id"])
        lines = wizard.suggestion_ids
        suggested = [line.partner_id or line.lead_id for line in lines]
        # same domain as Marco: Giulia, her company and her deal (the salesman's own)
        self.assertIn(self.contact_client, suggested)
        self.assertIn(self.company_client, suggested)
        self.assertIn(self.opportunity_client, suggested)
        # a lead of another salesman at the same domain is not the salesman's to see
        self.assertNotIn(self.lead_client, suggested)
        giulia = lines.filtered(lambda line: line.partner_id == self.contact_client)
        self.assertEqual(giulia.kind, "contact")
        self.assertIn(CLIENT_DOMAIN, giulia.reason)
        giulia.action_link()
        self.assertEqual(mail["marco"].state, "linked")
        self.assertEqual(mail["marco"].link_ids.partner_id, self.contact_client)
        self.assertEqual(mail["marco"].link_ids.link_type, "manual")
        self.assertFalse(mail["marco"].in_triage)
        self.assertEqual(self.as_user(mailbox, owner).triage_count, 4)
        # the mail of an address at a mail provider: nobody else of gmail.com is suggested
        self.env["res.partner"].create({"name": "Other Gmail", "email": "other.one@gmail.com"})
        action = self.as_user(mail["gmail"], owner).action_triage_link()
        wizard = self.env["mailbox.link.wizard"].with_user(owner).browse(action["res_id"])
        self.assertFalse(wizard.suggestion_ids)

    def test_conversation_and_recent_mail_rank_first(self):
        login = self.make_mail_user()
        first = self.corpus.message(sender=("Bob", GMAIL), subject="Domanda")
        self.dovecot.append(login, first)
        self.dovecot.append(login, self.corpus.reply(first, ("Bob", GMAIL), body="E poi?"))
        self.dovecot.append(login, self.corpus.message(sender=("Bob", GMAIL), subject="Altro"))
        mailbox = self.make_mailbox(
            login,
            mailbox_access="personal",
            owner_id=self.user_sales_salesman.id,
            incoming_unknown_action=policy.NOTHING,
        )
        self.sync(mailbox)
        mails = {m.subject: m for m in self.stored(mailbox)}
        owner = self.user_sales_salesman
        deal = self.env["crm.lead"].create(
            {"name": "Bob's project", "type": "opportunity", "user_id": owner.id}
        )
        self.as_user(mails["Domanda"], owner).action_link_record("crm.lead", deal.id)
        self.assertTrue(mails["Re: Domanda"].in_triage)
        action = self.as_user(mails["Re: Domanda"], owner).action_triage_link()
        lines = self.env["mailbox.link.wizard"].with_user(owner).browse(action["res_id"])
        first_line = lines.suggestion_ids[:1]
        self.assertEqual(first_line.lead_id, deal)
        self.assertIn("conversation", first_line.reason)
        # another mail of Bob, not of that conversation: the deal by his recent mail
        action = self.as_user(mails["Altro"], owner).action_triage_link()
        lines = self.env["mailbox.link.wizard"].with_user(owner).browse(action["res_id"])
        self.assertEqual(lines.suggestion_ids.lead_id, deal)
        self.assertEqual(lines.suggestion_ids.reason, "on recent mail of this correspondent")

    def test_create_lead_and_dismiss(self):
        mailbox, mail = self.queue_mailbox()
        owner = self.user_sales_salesman
        action = self.as_user(mail["anna"], owner).action_create_lead()
        lead = self.env["crm.lead"].browse(action["res_id"])
        self.assertEqual(lead.email_from, PROSPECT)
        self.assertEqual(lead.user_id, owner)
        self.assertEqual(mail["anna"].link_ids.lead_id, lead)
        self.assertFalse(mail["anna"].in_triage)
        # a member of the mailbox dismisses what is not CRM material
        self.as_user(mail["gmail"], self.user_sales_leads).action_triage_dismiss()
        self.assertEqual(mail["gmail"].state, "ignored")
        self.assertFalse(mail["gmail"].in_triage)
        why = self.env["mailbox.route.explainer"].with_user(owner)._lines(mail["gmail"])
        self.assertIn(f"{self.user_sales_leads.name} took it off the triage queue", "\n".join(why))
        self.assertEqual(self.as_user(mailbox, owner).triage_count, 3)
        # dismissing leaves linked mail as it is
        self.as_user(mail["known"], owner).action_triage_dismiss()
        self.assertEqual(mail["known"].state, "linked")

    def test_ignore_sender_from_now_on(self):
        mailbox, mail = self.queue_mailbox()
        owner = self.user_sales_salesman
        self.assertTrue(self.as_user(mail["robot1"], owner).can_ignore)
        self.as_user(mail["robot1"], owner).action_triage_ignore_sender()
        self.assertEqual(mailbox.never_log, ROBOT)
        for key in ("robot1", "robot2"):  # the queued mail of that sender leaves the queue
            self.assertEqual(mail[key].mail_kind, classify.EXCLUDED)
            self.assertEqual(mail[key].state, "ignored")
            # and says who put which address on the list, not only that it changed kind
            why = self.env["mailbox.route.explainer"].with_user(owner)._lines(mail[key])
            self.assertIn(
                f"{owner.name} put {ROBOT} on the mailbox's never-log list from the triage "
                "queue: this mail is never logged now.",
                why,
            )
            self.assertFalse([line for line in why if line.startswith("Classified again")])
        self.assertEqual(self.as_user(mailbox, owner).triage_count, 3)
        # from now on: the next mail of the robot is never logged on arrival
        self.dovecot.append(
            mailbox.user, self.corpus.message(sender=("Robot", ROBOT), subject="Offerte 3")
        )
        self.sync(mailbox)
        third = self.stored(mailbox, subject="Offerte 3")
        self.assertEqual(third.mail_kind, classify.EXCLUDED)
        self.assertEqual(self.as_user(mailbox, owner).triage_count, 3)
        # twice: the mail has left the queue, the second call is refused, the list unchanged
        with self.assertRaisesRegex(UserError, "not in the triage queue"):
            self.as_user(mail["robot1"], owner).action_triage_ignore_sender()
        self.assertEqual(mailbox.never_log, ROBOT)

    def test_ignore_domain_refuses_mail_providers_and_our_own(self):
        mailbox, mail = self.queue_mailbox(never_log="friend@family.example")
        owner = self.user_sales_salesman
        with self.assertRaisesRegex(UserError, "gmail.com is a mail provider's domain"):
            self.as_user(mail["gmail"], owner).action_triage_ignore_domain()
        # our own mail is never in the queue (mailflow.triage refuses our own addresses too:
        # TestTriageRules.test_never_log_entry)
        with self.assertRaisesRegex(UserError, "not in the triage queue"):
            self.as_user(mail["internal"], owner).action_triage_ignore_domain()
        with self.assertRaisesRegex(UserError, "not in the triage queue"):
            self.as_user(mail["internal"], owner).action_triage_ignore_sender()
        self.assertEqual(mailbox.never_log, "friend@family.example")
        self.as_user(mail["anna"], owner).action_triage_ignore_domain()
        self.assertEqual(mailbox.never_log, "friend@family.example\n@prospect.example")
        self.assertEqual(mail["anna"].mail_kind, classify.EXCLUDED)
        self.assertTrue(mail["marco"].in_triage, "another domain stays")
        # a single gmail.com sender may be ignored
        self.as_user(mail["gmail"], owner).action_triage_ignore_sender()
        self.assertFalse(mail["gmail"].in_triage)

    def test_ignore_only_from_the_queue(self):
        """Ignore Sender/Domain decide for the whole mailbox from a mail of the queue: on a
        linked, dismissed or internal mail the user may read (over RPC, say) they refuse."""
        mailbox, mail = self.queue_mailbox()
        owner = self.user_sales_salesman
        self.as_user(mail["gmail"], owner).action_triage_dismiss()
        for key in ("known", "gmail", "internal"):
            for method in ("action_triage_ignore_sender", "action_triage_ignore_domain"):
                with (
                    self.subTest(mail=key, method=method),
                    self.assertRaisesRegex(UserError, "not in the triage queue"),
                ):
                    getattr(self.as_user(mail[key], owner), method)()
        # one mail out of the queue among queued ones: nothing is listed
        with self.assertRaises(UserError):
            self.as_user(mail["robot1"] | mail["known"], owner).action_triage_ignore_sender()
        self.assertFalse(mailbox.never_log)
        self.assertEqual(mail["known"].state, "linked")
        self.assertTrue(mail["robot1"].in_triage)
        # who may not ignore is told so first, whatever the mail
        with self.assertRaises(AccessError):
            self.as_user(mail["known"], self.user_sales_leads).action_triage_ignore_sender()

    def test_who_may_ignore(self):
        """The never-log list decides for everybody's mail of the mailbox: its personal
        owner, sales managers and administrators change it; a member it is shared with, or
        any sales user of a shared mailbox, dismisses instead."""
        mailbox, mail = self.queue_mailbox()
        member = self.user_sales_leads
        self.assertFalse(self.as_user(mail["robot1"], member).can_ignore)
        with self.assertRaisesRegex(AccessError, "Only the owner of a personal mailbox"):
            self.as_user(mail["robot1"], member).action_triage_ignore_sender()
        with self.assertRaises(AccessError):
            self.as_user(mail["robot1"], member).action_triage_ignore_domain()
        self.assertFalse(mailbox.never_log)
        mailbox.mailbox_access = "shared"
        with self.assertRaises(AccessError):  # a shared mailbox's owner is no one's personal
            self.as_user(mail["robot1"], self.user_sales_salesman).action_triage_ignore_sender()
        self.assertTrue(self.as_user(mail["robot1"], self.user_sales_manager).can_ignore)
        self.as_user(mail["robot1"], self.user_sales_manager).action_triage_ignore_sender()
        self.assertEqual(mailbox.never_log, ROBOT)

    def test_hostile_direct_calls(self):
        """Every public method of the triage, called as RPC would: by a user without CRM
        rights, by a colleague on a mail of another's personal mailbox, with forged
        wizard rows."""
        mailbox, mail = self.queue_mailbox()
        robot = mail["robot1"]
        colleague = mail_new_test_user(
            self.env, login="triage_hostile_salesman", groups="sales_team.group_sale_salesman"
        )
        methods = (
            "action_triage_link",
            "action_triage_ignore_sender",
            "action_triage_ignore_domain",
            "action_triage_dismiss",
            "action_create_lead",
            "action_create_contact",
        )
        for user in (self.user_no_crm, colleague):
            for method in methods:
                with self.subTest(user=user.login, method=method), self.assertRaises(AccessError):
                    getattr(self.as_user(robot, user), method)()
            with self.assertRaises(AccessError):
                self.as_user(mailbox, user).action_mcl_triage()
        self.assertTrue(robot.in_triage)
        self.assertFalse(mailbox.never_log)
        # the owner's suggestions are the owner's: a colleague can neither read nor use them
        owner = self.user_sales_salesman
        action = self.as_user(mail["marco"], owner).action_triage_link()
        lines = self.env["mailbox.link.wizard"].browse(action["res_id"]).suggestion_ids
        self.assertTrue(lines)
        with self.assertRaises(AccessError):
            self.as_user(lines[:1], self.user_sales_leads).action_link()
        self.assertTrue(mail["marco"].in_triage)
        # a row forged over RPC naming a lead the salesman may not read is refused
        wizard = (
            self.env["mailbox.link.wizard"]
            .with_user(owner)
            .create({"message_ids": [(6, 0, mail["marco"].ids)]})
        )
        with self.assertRaises(AccessError):
            self.env["mailbox.link.suggestion"].with_user(owner).create(
                {"wizard_id": wizard.id, "lead_id": self.lead_client.id}
            )
        # nor a row on a colleague's wizard
        with self.assertRaises(AccessError):
            self.env["mailbox.link.suggestion"].with_user(self.user_sales_leads).create(
                {"wizard_id": wizard.id, "partner_id": self.contact_client.id}
            )
        # a dismiss on a mail in error or linked changes nothing
        self.as_user(mail["known"], owner).action_triage_dismiss()
        self.assertEqual(mail["known"].state, "linked")
