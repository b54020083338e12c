""" "Connect my mailbox" in Chromium (issue 13): a sales user connects their own mailbox on
the private Dovecot from the CRM menu, tests the connection (a wrong password first), sees it
waiting for its first sync, then synced, asks for a sync and disconnects."""

import json

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.mail_crm_link.mailflow import secrets
from odoo.addons.mail_crm_link.wizards.mailbox_connect import PARAM_ENABLED, PARAM_PORTS

from .common import CLIENT_DOMAIN, OUR_DOMAIN, MailCrmLinkTourCase, use_savepoints_for_commits
from .corpus import Corpus
from .dovecot import get_server


@tagged("post_install", "-at_install")
class TestConnectMailboxTour(MailCrmLinkTourCase):
    def start_tour_with(self, tour, values, login):
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False, "startUrl": "/odoo"}
        code = (
            f"window.mclConnectTour = {json.dumps(values)}; "
            f"odoo.startTour({tour!r}, {json.dumps(options)})"
        )
        self.start_tour("/odoo", tour, login=login, code=code)

    def test_tour_connect_my_mailbox(self):
        dovecot = get_server()
        login = dovecot.add_user(f"tour.connect@{OUR_DOMAIN}", "Tour-S3cret")
        corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN)
        dovecot.append(login, corpus.message(subject="Richiesta di offerta"))
        mail_new_test_user(
            self.env,
            login="connect_tour",
            name="Tina Tour",
            email=login,
            groups="base.group_user,sales_team.group_sale_salesman",
        )
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(PARAM_ENABLED, "True")
        params.set_param(PARAM_PORTS, str(dovecot.port_imap))
        values = {
            "email": login,
            "server": dovecot.host,
            "port": dovecot.port_imap,
            "password": "Tour-S3cret",
        }
        self.start_tour_with("mail_crm_link_connect_mailbox", values, "connect_tour")

        mailbox = self.env["fetchmail.server"].search([("user", "=", login)])
        self.assertEqual(mailbox.owner_id.login, "connect_tour")
        self.assertEqual((mailbox.mailbox_access, mailbox.state), ("personal", "done"))
        self.env.flush_all()
        column = self.env.execute_query(
            SQL("SELECT password FROM fetchmail_server WHERE id = %s", mailbox.id)
        )[0][0]
        self.assertTrue(secrets.is_encrypted(column))

        # the sync cron runs (here, in the test's transaction)
        use_savepoints_for_commits(self)
        self.assertFalse(mailbox._mcl_sync().get("error"))
        self.env.invalidate_all()
        self.assertEqual(len(mailbox.mailbox_message_ids), 1)

        self.start_tour_with("mail_crm_link_my_mailbox_disconnect", values, "connect_tour")
        self.env.invalidate_all()
        self.assertEqual(mailbox.state, "draft")
        self.assertFalse(mailbox.password)
        self.assertEqual(len(mailbox.mailbox_message_ids), 1)  # the stored mail stays
