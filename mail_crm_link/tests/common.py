"""Shared test bench of mail_crm_link: users at every sales right level, CRM records, a real
Dovecot mailbox and a real SMTP listener.

    class TestSomething(MailCrmLinkCommon):
        def test_x(self):
            mailbox = self.make_mailbox()            # a Dovecot user + a fetchmail.server
            self.dovecot.append(mailbox.user, self.corpus.message(...))
"""

import contextlib
import shutil
import unittest

from odoo.tests import HttpCase

from odoo.addons.crm.tests.common import TestCrmCommon
from odoo.addons.mail.tests.common import mail_new_test_user

from .. import compat
from .corpus import Corpus
from .dovecot import get_server
from .smtp_sink import get_sink

OUR_DOMAIN = "mycompany.example"
CLIENT_DOMAIN = "client.example"


def use_savepoints_for_commits(test):
    """The sync and the outbox commit after each step and roll back to the last commit on
    failure. A test runs in one transaction that is rolled back at the end, so here a commit
    releases and re-opens a savepoint and a rollback returns to it: the same semantics,
    inside the test's transaction (blind to other transactions: tests of concurrency, crashes
    and retries use real cursors)."""
    cr = test.env.cr
    cr.execute("SAVEPOINT mcl_checkpoint")

    def commit():
        cr.flush()
        cr.execute("RELEASE SAVEPOINT mcl_checkpoint")
        cr.execute("SAVEPOINT mcl_checkpoint")

    def rollback():
        cr.clear()  # as Cursor.rollback: cache and pending writes go
        cr.execute("ROLLBACK TO SAVEPOINT mcl_checkpoint")

    test.patch(cr, "commit", commit)
    test.patch(cr, "rollback", rollback)


class MailCrmLinkCommon(TestCrmCommon):
    """Users, CRM records and the real mail servers, built once per test class.

    Users (from ``TestCrmCommon`` plus one):
      - ``user_sales_salesman``: Sales / User: Own Documents Only
      - ``user_sales_leads``: Sales / User: All Documents
      - ``user_sales_manager``: Sales / Administrator
      - ``user_no_crm``: an internal user without any sales right
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_no_crm = mail_new_test_user(
            cls.env,
            login="user_no_crm",
            name="Nadia No CRM",
            email=f"nadia@{OUR_DOMAIN}",
            groups="base.group_user",
        )
        cls.company_client = cls.env["res.partner"].create(
            {
                "name": "Client Industries",
                "is_company": True,
                "email": f"info@{CLIENT_DOMAIN}",
            }
        )
        cls.contact_client = cls.env["res.partner"].create(
            {
                "name": "Giulia Rossi",
                "email": f"giulia.rossi@{CLIENT_DOMAIN}",
                "parent_id": cls.company_client.id,
                "user_id": cls.user_sales_salesman.id,
            }
        )
        cls.lead_client = cls.env["crm.lead"].create(
            {
                "name": "Website enquiry",
                "type": "lead",
                "email_from": f"olena.kovalenko@{CLIENT_DOMAIN}",
                "user_id": cls.user_sales_leads.id,
                "team_id": cls.sales_team_1.id,
            }
        )
        cls.opportunity_client = cls.env["crm.lead"].create(
            {
                "name": "Client Industries: 40 units",
                "type": "opportunity",
                "partner_id": cls.contact_client.id,
                "user_id": cls.user_sales_salesman.id,
                "team_id": cls.sales_team_1.id,
            }
        )
        cls.corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN)

    def setUp(self):
        super().setUp()
        self._use_savepoints_for_commits()

    def _use_savepoints_for_commits(self):
        use_savepoints_for_commits(self)

    # -- real IMAP/POP3 -----------------------------------------------------------------------
    @property
    def dovecot(self):
        return get_server()

    def make_mail_user(self, login=None, password="secret"):
        """A fresh Dovecot user (one per test keeps tests independent)."""
        self._mail_user_seq = getattr(type(self), "_mail_user_seq", 0) + 1
        type(self)._mail_user_seq = self._mail_user_seq
        login = login or f"{self._testMethodName}.{self._mail_user_seq}@{OUR_DOMAIN}"
        return self.dovecot.add_user(login, password)

    def make_mailbox(self, login=None, protocol="imap", security="none", **values):
        """A ``fetchmail.server`` pointing at a new Dovecot user on loopback."""
        login = login or self.make_mail_user()
        server = self.dovecot
        port = {
            ("imap", "none"): server.port_imap,
            ("imap", "ssl"): server.port_imaps,
            ("imap", "starttls"): server.port_imap,
            ("pop", "none"): server.port_pop3,
            ("pop", "ssl"): server.port_pop3s,
            ("pop", "starttls"): server.port_pop3,
        }[(protocol, security)]
        vals = {
            "name": f"Mailbox {login}",
            "server_type": protocol,
            "server": server.host,
            "port": port,
            "connection_security": security,
            "tls_verify": False,  # the test Dovecot's certificate is self-signed
            "internal_domains": OUR_DOMAIN,
            "connect_timeout": 5,
            "state": "done",
            "user": login,
            "password": server.users[login],
            "crm_link_mode": "auto",
        }
        vals.update(values)
        return self.env["fetchmail.server"].create(vals)

    def sync(self, mailbox, **kwargs):
        """Run the sync engine as the cron does; returns its result dict. What the test set up
        before is committed first, as it would be in a real database."""
        # a savepoint inside the test's transaction (see setUp)
        self.env.cr.commit()  # pylint: disable=invalid-commit
        result = mailbox._mcl_sync(**kwargs)
        self.env.invalidate_all()
        return result

    def stored(self, mailbox, **domain):
        return self.env["mailbox.message"].search(
            [("mailbox_id", "=", mailbox.id)] + [(k, "=", v) for k, v in domain.items()]
        )

    # -- real SMTP --------------------------------------------------------------------------
    @property
    def smtp_sink(self):
        return get_sink()

    def make_mail_server(self):
        return self.env["ir.mail_server"].create(self.smtp_sink.mail_server_values())

    def send_queued(self, refuse=(), **kwargs):
        """Run the outbox as the post-commit hook or the cron does (here inside the test's
        transaction, commits emulated); returns what the SMTP listener received. ``refuse``:
        addresses the listener refuses."""
        with self.real_smtp(refuse=refuse) as sink:
            self.env["mailbox.outbox"]._send_queued(**kwargs)
        self.env.invalidate_all()
        return list(sink.messages)

    @contextlib.contextmanager
    def real_smtp(self, refuse=()):
        """Let Odoo really talk SMTP to the sink (Odoo skips SMTP while a test runs);
        ``refuse``: addresses the sink refuses at RCPT TO."""
        self.smtp_sink.reset()
        self.smtp_sink.refuse = {a.lower() for a in refuse}
        with compat.real_smtp(self.env):
            yield self.smtp_sink


class MailCrmLinkTourCase(HttpCase):
    """Base of the Chromium tours: a tour that cannot run fails, it is never skipped.

    Odoo turns a missing browser or websocket-client into a skip with a log line; a test bench
    that claims tours run must say so loudly instead.
    """

    # 19 fails a request that waits more than 20 s for the test cursor (18 waits as long as
    # it takes); on a loaded shared machine one slow request (an asset bundle, a send) can
    # hold it that long. An attribute 18 does not read (see compat, tests).
    test_cursor_lock_timeout = 120

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        missing = []
        try:
            import websocket  # noqa: F401  (Odoo's tour runner needs it)
        except ImportError:
            missing.append("the Python package websocket-client")
        if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
            missing.append("Chromium (Debian package chromium)")
        if missing:
            raise AssertionError("Tours cannot run: missing " + " and ".join(missing))

    def start_tour(self, *args, **kwargs):
        try:
            return super().start_tour(*args, **kwargs)
        except unittest.SkipTest as error:
            self.fail(f"The tour could not run in Chromium: {error}")
