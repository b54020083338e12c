from odoo.tests import tagged

from .common import MailCrmLinkTourCase


@tagged("post_install", "-at_install")
class TestTours(MailCrmLinkTourCase):
    def test_tour_crm_and_mailboxes(self):
        """Chromium opens the CRM app and finds a configured mailbox under Configuration."""
        self.env["fetchmail.server"].create(
            {
                "name": "Sales mailbox (tour)",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 143,
                "user": "sales@mycompany.example",
                "password": "x",
                "crm_link_mode": "auto",
            }
        )
        self.start_tour("/odoo", "mail_crm_link_open_mailboxes", login="admin")
