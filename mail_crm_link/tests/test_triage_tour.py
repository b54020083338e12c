"""The triage queue in Chromium (issue 25, point 3): a sales user opens the queue of their
own mailbox, synced from the private Dovecot, links one mail through a suggestion, makes a
lead of another, ignores a sender, and sees the count drop."""

from odoo.tests import tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from ..mailflow import classify, policy
from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkTourCase, use_savepoints_for_commits
from .corpus import Corpus
from .dovecot import get_server

ROBOT = "news@robot-sender.example"


@tagged("post_install", "-at_install")
class TestTriageTour(MailCrmLinkTourCase):
    def test_tour_triage_as_sales_user(self):
        env = self.env
        dovecot = get_server()
        login = dovecot.add_user(f"tour.triage@{OUR_DOMAIN}", "Tour-Triage-1")
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=25)
        for sender, subject in (
            (("Marco Bianchi", f"marco.bianchi@{CLIENT_DOMAIN}"), "Preventivo"),
            (("Anna Verdi", "anna.verdi@prospect.example"), "Catalogo"),
            (("Robot News", ROBOT), "Offerte 1"),
            (("Robot News", ROBOT), "Offerte 2"),
            (("Private Person", "someone.private@gmail.com"), "Ciao"),
        ):
            dovecot.append(login, corpus.message(sender=sender, subject=subject, lang="it"))
        sam = mail_new_test_user(
            env,
            login="triage_tour",
            name="Sam Sales",
            email=login,
            groups="base.group_user,sales_team.group_sale_salesman",
        )
        company = env["res.partner"].create(
            {"name": "Client Industries", "is_company": True, "email": f"info@{CLIENT_DOMAIN}"}
        )
        giulia = env["res.partner"].create(
            {
                "name": "Giulia Rossi",
                "email": f"giulia.rossi@{CLIENT_DOMAIN}",
                "parent_id": company.id,
            }
        )
        mailbox = env["fetchmail.server"].create(
            {
                "name": "Sam's mailbox",
                "server_type": "imap",
                "server": dovecot.host,
                "port": dovecot.port_imap,
                "connection_security": "none",
                "user": login,
                "password": "Tour-Triage-1",
                "email_address": login,
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "mailbox_access": "personal",
                "owner_id": sam.id,
                "incoming_unknown_action": policy.NOTHING,
                "state": "done",
            }
        )
        use_savepoints_for_commits(self)  # the sync commits: savepoints inside the test
        self.assertFalse(mailbox._mcl_sync().get("error"))
        env.invalidate_all()
        self.assertEqual(mailbox.with_user(sam).triage_count, 5)

        self.start_tour("/odoo", "mail_crm_link_triage", login="triage_tour")

        env.invalidate_all()
        mails = {m.subject: m for m in mailbox.mailbox_message_ids}
        self.assertEqual(mails["Preventivo"].link_ids.partner_id, giulia)
        lead = mails["Catalogo"].link_ids.lead_id
        self.assertEqual((lead.name, lead.user_id), ("Catalogo", sam))
        self.assertEqual(mailbox.never_log, ROBOT)
        for subject in ("Offerte 1", "Offerte 2"):
            self.assertEqual(mails[subject].mail_kind, classify.EXCLUDED)
        self.assertTrue(mails["Ciao"].in_triage)
        self.assertEqual(mailbox.with_user(sam).triage_count, 1)
