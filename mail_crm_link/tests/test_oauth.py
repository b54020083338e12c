"""Gmail and Microsoft 365 mailboxes by XOAUTH2, end to end on real parts.

The private Dovecot's ``oauth2`` passdb checks every token with the introspection endpoint of
a local provider (``oauth_provider.py``), which also stands in for Google's and Microsoft's
token endpoints. Odoo's own ``google_gmail`` / ``microsoft_outlook`` code fetches and stores
the tokens; only their URLs point at the stand-in: Microsoft's through Odoo's system
parameter ``microsoft_outlook.endpoint``, Google's (a literal in ``_fetch_gmail_token``)
through the one URL rewritten on its way to ``requests.post``.

The tokens are saved by a transaction of their own that commits, so these tests work on
committed data, through cursors of their own, as the cron and the listener do; what they
commit is removed at the end.
"""

import imaplib
import logging
import os
import subprocess
import threading
import time
import types
import unittest
from unittest.mock import patch

import requests

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from odoo.addons.mail_crm_link.mailflow import errors, imap_sync, oauth, policy, push

from ..cli.mailbox_listen import MailboxListener
from .common import CLIENT_DOMAIN, OUR_DOMAIN
from .corpus import Corpus
from .dovecot import DOVEADM
from .oauth_provider import ByeProxy, get_oauth_servers

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # as in google_gmail_mixin.py


class LogWaiter(logging.Handler):
    """The lines a logger emits, with a wait for a condition on them (no polling, no sleep)."""

    def __init__(self, logger):
        super().__init__(logging.INFO)
        self.logger, self.level_before = logger, logger.level
        self.lines = []
        self.changed = threading.Condition()
        logger.addHandler(self)
        logger.setLevel(logging.INFO)

    def emit(self, record):
        with self.changed:
            self.lines.append(record.getMessage())
            self.changed.notify_all()

    def wait_for(self, predicate, timeout):
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.lines), timeout)

    def close(self):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)
        return super().close()


def idling_after_a_sync(lines):
    """A sync was logged, and after it an IDLE."""
    syncs = [i for i, line in enumerate(lines) if ": sync in " in line]
    return bool(syncs) and any(line.endswith(": IDLE") for line in lines[syncs[-1] + 1 :])


class TestOAuthRules(unittest.TestCase):
    """The pure part (mailflow/oauth.py)."""

    def test_refresh_and_reauth_times(self):
        self.assertTrue(oauth.needs_refresh(0, 1000))
        self.assertTrue(oauth.needs_refresh(1200, 1000), "lives 200 s < 300 s: refreshed")
        self.assertFalse(oauth.needs_refresh(1400, 1000))
        self.assertFalse(oauth.needs_refresh(1010, 1000, min_validity=5))
        self.assertEqual(oauth.reauth_at(5000), 5000 - oauth.REAUTH_MARGIN)
        self.assertIsNone(oauth.reauth_at(None), "a password login never expires")
        self.assertGreater(oauth.REFRESH_MARGIN, oauth.REAUTH_MARGIN)

    def test_exchange_bye_at_token_expiry(self):
        line = b"* BYE Session invalidated - AccessTokenExpired"
        self.assertTrue(oauth.session_token_expired(line))
        self.assertFalse(oauth.session_token_expired(b"* BYE Server shutting down."))
        # imaplib's words when the BYE comes during a command
        self.assertTrue(
            oauth.session_token_expired("command: NOOP => Session invalidated - AccessTokenExpired")
        )
        result = imap_sync.IdleResult(lines=[], changes=[])
        with self.assertRaises(imap_sync.SessionEnded) as caught:
            result.add(line + b"\r\n")
        self.assertTrue(caught.exception.token_expired)
        self.assertIsInstance(caught.exception, imaplib.IMAP4.abort)

    def test_xoauth2_answers_a_failure_with_an_empty_response(self):
        respond = oauth.xoauth2_responder("user=a\1auth=Bearer t\1\1")
        self.assertEqual(respond(b""), "user=a\1auth=Bearer t\1\1")
        self.assertEqual(respond(b'{"status":"401"}'), b"")

    def test_only_a_withdrawn_grant_asks_for_a_reconnect(self):
        refusal = oauth.token_answer_is_refusal
        self.assertTrue(refusal(400, {"error": "invalid_grant"}))
        self.assertTrue(refusal(400, {"error": "interaction_required"}))
        self.assertFalse(refusal(503, {"error": "temporarily_unavailable"}))
        self.assertFalse(refusal(429, {"error": "invalid_grant"}))  # throttled, not refused
        self.assertFalse(refusal(500, None))
        self.assertFalse(refusal(400, "<html>proxy error</html>"))
        self.assertFalse(refusal(400, {"error": ["invalid_grant"]}))
        self.assertFalse(refusal(None, None))

    def test_token_failures_are_kinds_of_their_own(self):
        self.assertEqual(errors.classify(errors.TokenRefused("x")), errors.TOKEN_REFUSED)
        self.assertEqual(errors.classify(errors.TokenUnreachable("x")), errors.TOKEN_UNREACHABLE)
        self.assertIn("expires_at=5", repr(oauth.Token("secret", 5)))
        self.assertNotIn("secret", repr(oauth.Token("secret", 5)))


@tagged("post_install", "-at_install")
class TestOAuthMailboxes(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider, cls.dovecot = get_oauth_servers()
        cls.corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN, seed=13)
        modules = cls.env["ir.module.module"].search(
            [("name", "in", ("google_gmail", "microsoft_outlook")), ("state", "=", "installed")]
        )
        if len(modules) != 2:
            raise AssertionError(
                "The OAuth tests need Odoo's google_gmail and microsoft_outlook installed "
                "(make test installs them in the test database)"
            )
        cls._commit_params(
            {
                "microsoft_outlook.endpoint": f"{cls.provider.url}/microsoft/",
                "microsoft_outlook_client_id": "mcl-test-client",
                "microsoft_outlook_client_secret": "mcl-test-secret",
                "google_gmail_client_id": "mcl-test-client",
                "google_gmail_client_secret": "mcl-test-secret",
            }
        )
        # Google's token URL is a literal in google_gmail: that URL alone goes to the stand-in
        from odoo.addons.google_gmail.models import google_gmail_mixin

        local = f"{cls.provider.url}/google/token"

        def post(url, *args, timeout=10, **kwargs):
            url = local if url == GOOGLE_TOKEN_URL else url
            return requests.post(url, *args, timeout=timeout, **kwargs)

        cls.startClassPatcher(
            patch.object(google_gmail_mixin, "requests", types.SimpleNamespace(post=post))
        )

    @classmethod
    def _commit_params(cls, params):
        with cls.registry.cursor() as cr:
            config = api.Environment(cr, SUPERUSER_ID, {})["ir.config_parameter"]
            saved = {key: config.get_param(key) for key in params}
            for key, value in params.items():
                config.set_param(key, value)
        cls.addClassCleanup(cls._restore_params, saved)

    @classmethod
    def _restore_params(cls, saved):
        with cls.registry.cursor() as cr:
            config = api.Environment(cr, SUPERUSER_ID, {})["ir.config_parameter"]
            for key, value in saved.items():
                config.set_param(key, value or False)

    def setUp(self):
        super().setUp()
        self.provider.lifetime, self.provider.delay = 3600, 0.0

    # -- committed data ------------------------------------------------------------------------
    def env_of(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def oauth_mailbox(self, server_type, expired=False, delegate=None, **values):
        """A committed Gmail or Microsoft 365 mailbox whose consent was given (a refresh token
        and an access token from the provider, as Odoo's consent flow leaves them) by its own
        account, or by ``delegate`` (a shared mailbox); deleted when the test ends. Returns
        (mailbox id, login)."""
        self._seq = getattr(type(self), "_seq", 0) + 1
        type(self)._seq = self._seq
        login = f"{self._testMethodName}.{self._seq}@{OUR_DOMAIN}"
        self.dovecot.add_user(login, "pw")  # the test appends mail with a password login
        if delegate:  # Full Access to the shared mailbox: the delegate's tokens open it
            refresh = self.provider.add_account(delegate, opens=login)
        else:
            refresh = self.provider.add_account(login)
        access, expiry = self.provider.issue_access_token(delegate or login)
        if expired:
            self.provider.expire(access)
            expiry = int(time.time()) - 60
        prefix = {"gmail": "google_gmail", "outlook": "microsoft_outlook"}[server_type]
        vals = {
            "name": f"OAuth {login}",
            "server_type": server_type,
            "server": self.dovecot.host,
            "port": self.dovecot.port_imaps,
            "connection_security": "ssl",  # Microsoft's module requires it
            "tls_verify": False,
            "user": login,
            "internal_domains": OUR_DOMAIN,
            "connect_timeout": 5,
            "state": "done",
            "crm_link_mode": "auto",
            "incoming_unknown_action": policy.NOTHING,
            "outgoing_unknown_action": policy.NOTHING,
            "known_action": policy.NOTHING,
            f"{prefix}_refresh_token": refresh,
            f"{prefix}_access_token": access,
            f"{prefix}_access_token_expiration": expiry,
            **values,
        }
        with self.registry.cursor() as cr:
            mailbox_id = self.env_of(cr)["fetchmail.server"].create(vals).id
        self.addCleanup(self._delete_committed, mailbox_id)
        return mailbox_id, login

    def _delete_committed(self, mailbox_id):
        with self.registry.cursor() as cr:
            self.env_of(cr)["fetchmail.server"].browse(mailbox_id).unlink()

    def committed(self, mailbox_id, *names):
        """Committed values of the mailbox, read by another connection."""
        with self.registry.cursor() as cr:
            record = self.env_of(cr)["fetchmail.server"].browse(mailbox_id)
            return [record[name] for name in names]

    def sync(self, mailbox_id):
        with self.registry.cursor() as cr:
            env = self.env_of(cr)
            return env["mailbox.sync"].sync_isolated(env["fetchmail.server"].browse(mailbox_id))

    def stored_ids(self, mailbox_id):
        with self.registry.cursor() as cr:
            cr.execute("SELECT message_id FROM mailbox_message WHERE mailbox_id = %s", [mailbox_id])
            return {row[0] for row in cr.fetchall()}

    def message(self, label):
        msgid = f"<{label}.{time.time_ns()}@{CLIENT_DOMAIN}>"
        return msgid, self.corpus.message(msgid=msgid, html=False)

    def wait_stored(self, mailbox_id, msgid, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if msgid in self.stored_ids(mailbox_id):
                return True
            time.sleep(0.1)
        return False

    # -- the tests -----------------------------------------------------------------------------
    def test_gmail_mailbox_syncs_by_xoauth2(self):
        mailbox_id, login = self.oauth_mailbox("gmail")
        msgid, raw = self.message("gmail")
        self.dovecot.append(login, raw)

        result = self.sync(mailbox_id)

        self.assertFalse(result.get("error"), result)
        self.assertIn(msgid, self.stored_ids(mailbox_id))
        self.assertIn(f"user=<{login}>, method=XOAUTH2", self.dovecot.log_tail(200))
        self.assertFalse(self.provider.refreshes(login), "a valid token is used as it is")

    def test_expired_token_is_refreshed_saved_and_reused(self):
        for server_type in ("gmail", "outlook"):
            with self.subTest(server_type):
                mailbox_id, login = self.oauth_mailbox(server_type, expired=True)
                msgid, raw = self.message(server_type)
                self.dovecot.append(login, raw)

                self.assertFalse(self.sync(mailbox_id).get("error"))
                self.assertIn(msgid, self.stored_ids(mailbox_id))
                self.assertEqual(len(self.provider.refreshes(login)), 1)
                prefix = {"gmail": "google_gmail", "outlook": "microsoft_outlook"}[server_type]
                access, expiry = self.committed(
                    mailbox_id, f"{prefix}_access_token", f"{prefix}_access_token_expiration"
                )
                self.assertIn(access, self.provider.accounts[login].access_tokens)
                self.assertGreater(expiry, time.time() + 3000)

                self.assertFalse(self.sync(mailbox_id).get("error"))
                self.assertEqual(len(self.provider.refreshes(login)), 1, "saved: not again")

    def test_rotated_refresh_token_survives_a_rollback_of_the_sync(self):
        """Microsoft rotates the refresh token at each refresh (the stand-in then refuses the
        old one): the sync's transaction rolls back after the login, the new one is kept."""
        mailbox_id, login = self.oauth_mailbox("outlook", expired=True)
        (before,) = self.committed(mailbox_id, "microsoft_outlook_refresh_token")
        with self.registry.cursor() as cr:
            mailbox = self.env_of(cr)["fetchmail.server"].browse(mailbox_id)
            mailbox._mcl_connect().logout()
            cr.rollback()  # the sync failed after its login: everything of it is undone

        (after,) = self.committed(mailbox_id, "microsoft_outlook_refresh_token")
        self.assertNotEqual(after, before)
        self.assertEqual(after, self.provider.accounts[login].refresh_token, "the rotated one")
        # and it works: the next refresh (forced) uses it
        with self.registry.cursor() as cr:
            mailbox = self.env_of(cr)["fetchmail.server"].browse(mailbox_id)
            token = self.env_of(cr)["mailbox.oauth"]._token(mailbox, force=True)
        self.assertTrue(token.refreshed)
        self.assertEqual(len(self.provider.refreshes(login)), 2)

    def test_two_processes_never_refresh_one_token_at_once(self):
        """The cron and the listener (two connections) log in at the same moment with an
        expired token: one refresh at the provider, the other one uses its token."""
        mailbox_id, login = self.oauth_mailbox("outlook", expired=True)
        self.provider.delay = 1.0  # the first refresh is still running when the second asks
        barrier = threading.Barrier(2)
        tokens, failures = [], []

        def login_once():
            try:
                with self.registry.cursor() as cr:
                    env = self.env_of(cr)
                    mailbox = env["fetchmail.server"].browse(mailbox_id)
                    barrier.wait(5)
                    tokens.append(env["mailbox.oauth"]._token(mailbox))
            except Exception as exc:  # noqa: BLE001 (reported by the test thread)
                failures.append(exc)

        threads = [threading.Thread(target=login_once) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertFalse(failures)
        self.assertEqual(len(self.provider.refreshes(login)), 1, "one refresh")
        self.assertEqual(tokens[0].sasl, tokens[1].sasl, "the second uses the first's token")
        self.assertEqual(sorted(t.refreshed for t in tokens), [False, True])
        (stored,) = self.committed(mailbox_id, "microsoft_outlook_refresh_token")
        self.assertEqual(stored, self.provider.accounts[login].refresh_token)

    def test_sent_mail_appended_by_xoauth2(self):
        mailbox_id, login = self.oauth_mailbox("outlook")
        msgid, raw = self.message("sent")
        with self.registry.cursor() as cr:
            mailbox = self.env_of(cr)["fetchmail.server"].browse(mailbox_id)
            conn = mailbox._mcl_connect()
            try:
                self.assertTrue(imap_sync.append_once(conn, "Sent", raw, msgid))
                self.assertFalse(imap_sync.append_once(conn, "Sent", raw, msgid), "once")
            finally:
                imap_sync.close(conn)
        self.assertEqual(self.dovecot.count(login, "Sent"), 1)

    def test_revoked_consent_says_reconnect_and_the_button_reconnects(self):
        for server_type, consent_url in (
            ("gmail", "https://accounts.google.com/o/oauth2/v2/auth?"),
            ("outlook", f"{self.provider.url}/microsoft/authorize?"),
        ):
            with self.subTest(server_type):
                mailbox_id, login = self.oauth_mailbox(server_type, expired=True)
                self.provider.revoke(login)

                result = self.sync(mailbox_id)

                error, needed = self.committed(mailbox_id, "last_error", "reconnect_needed")
                self.assertEqual(result["error"], error)
                self.assertIn("no longer gives access", error)
                self.assertIn("clicks Reconnect", error)
                self.assertTrue(needed, "the form shows the Reconnect button")
                with self.registry.cursor() as cr:
                    mailbox = self.env_of(cr)["fetchmail.server"].browse(mailbox_id)
                    action = mailbox.action_reconnect()
                    cr.rollback()
                self.assertEqual(action["type"], "ir.actions.act_url")
                self.assertTrue(action["url"].startswith(consent_url), action["url"])
                self.assertIn(str(mailbox_id), action["url"], "Odoo's state names the mailbox")

                # the owner consents again (as Odoo's /…/confirm controller stores it)
                refresh = self.provider.add_account(login)
                prefix = {"gmail": "google_gmail", "outlook": "microsoft_outlook"}[server_type]
                with self.registry.cursor() as cr:
                    self.env_of(cr)["fetchmail.server"].browse(mailbox_id).write(
                        {f"{prefix}_refresh_token": refresh}
                    )
                self.assertFalse(self.sync(mailbox_id).get("error"))
                self.assertEqual(self.committed(mailbox_id, "reconnect_needed"), [False])

    def test_token_service_briefly_unavailable_is_not_a_withdrawn_consent(self):
        """Review of issue 13: the provider's token endpoint answers 503 once (an outage,
        throttling). Odoo's methods raise a UserError for any answer that is not OK; the
        mailbox must not say that the consent was withdrawn nor ask for a reconnect."""
        for server_type in ("gmail", "outlook"):
            with self.subTest(server_type):
                mailbox_id, _login = self.oauth_mailbox(server_type, expired=True)
                original = self.provider.answer

                def unavailable(path, form, original=original):
                    if path.endswith("/token"):
                        return 503, {
                            "error": "temporarily_unavailable",
                            "error_description": "AADSTS90033: A transient error has "
                            "occurred. Please try again.",
                        }
                    return original(path, form)

                with patch.object(self.provider, "answer", unavailable):
                    result = self.sync(mailbox_id)

                error, needed = self.committed(mailbox_id, "last_error", "reconnect_needed")
                self.assertTrue(result.get("error"))
                self.assertNotIn("no longer gives access", error)
                self.assertFalse(needed, "an outage of the provider asks for a new consent")

    def test_reconnected_mailbox_is_synced_without_waiting_for_the_backoff(self):
        """Review of issue 13: the owner (an administrator, in Odoo 18) gives the consent
        again; Odoo's /microsoft_outlook/confirm controller writes the new refresh token on
        the mailbox. The mailbox must be due at once, not after the failure backoff (which
        grows to a day while nobody reconnects), still saying "click Reconnect"."""
        mailbox_id, login = self.oauth_mailbox("outlook", expired=True)
        self.provider.revoke(login)
        self.sync(mailbox_id)
        self.assertEqual(self.committed(mailbox_id, "reconnect_needed"), [True])

        refresh = self.provider.add_account(login)
        with self.registry.cursor() as cr:  # as Odoo's controller stores the new consent
            self.env_of(cr)["fetchmail.server"].browse(mailbox_id).write(
                {"microsoft_outlook_refresh_token": refresh}
            )
        with self.registry.cursor() as cr:
            due = self.env_of(cr)["mailbox.sync"]._due_mailbox_ids()
        self.assertIn(mailbox_id, due, "reconnected, yet the sync waits for the backoff")

    # -- push ------------------------------------------------------------------------------------
    def start_listener(self, **kwargs):
        listener = MailboxListener(
            self.registry, **{"idle_seconds": 30, "stop_poll": 0.5, **kwargs}
        )
        self.addCleanup(listener.shutdown)  # before the mailboxes are deleted
        return listener

    def test_listener_logs_in_again_before_the_token_expires(self):
        """Tokens of 8 s, a re-login 3 s before expiry: the IDLE connection never holds an
        expired token (the server is never shown one), and mail appended after the first
        token's expiry is imported within seconds."""
        self.provider.lifetime = 8
        mailbox_id, login = self.oauth_mailbox("outlook", push_enabled=True)
        first_token = self.committed(mailbox_id, "microsoft_outlook_access_token")[0]
        listener = self.start_listener(reauth_margin=3)
        self.assertEqual(listener.refresh(), {mailbox_id})
        msgid, raw = self.message("before")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 10))

        first_expiry = self.provider.accounts[login].access_tokens[first_token]
        time.sleep(max(first_expiry - time.time(), 0) + 4)  # past the first token's expiry
        msgid, raw = self.message("after")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 10), "imported after the expiry")
        self.assertTrue(self.provider.refreshes(login))
        refused = self.provider.introspected(active=False, username=login)
        self.assertFalse(refused, "no login with an expired token")
        self.assertGreaterEqual(
            self.dovecot.log_tail(400).count(f"user=<{login}>, method=XOAUTH2"), 3
        )

    def test_listener_recovers_when_the_server_ends_the_session(self):
        """The server ends the IDLE session and refuses the token it was opened with, though
        it has not expired by our clock (as Exchange's BYE ... AccessTokenExpired): the
        listener logs in again with a fresh token and imports what comes next."""
        mailbox_id, login = self.oauth_mailbox("gmail", push_enabled=True)
        (token,) = self.committed(mailbox_id, "google_gmail_access_token")
        listener = self.start_listener()
        self.assertEqual(listener.refresh(), {mailbox_id})
        msgid, raw = self.message("before")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 10))

        self.provider.expire(token)
        subprocess.run(
            [DOVEADM, "-c", self.dovecot.config, "kick", login], check=True, capture_output=True
        )
        msgid, raw = self.message("after")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 20), "imported after the BYE")
        self.assertEqual(len(self.provider.refreshes(login)), 1, "one fresh token")
        (stored,) = self.committed(mailbox_id, "google_gmail_access_token")
        self.assertNotEqual(stored, token)

    def test_listener_logs_in_again_at_once_when_exchange_ends_the_session(self):
        """Exchange Online ends the session when its token expires ("* BYE Session invalidated
        - AccessTokenExpired", said here by a relay in front of Dovecot, which from then on
        refuses that token): the listener logs in again at once, without backing off, with a
        fresh token, and imports what comes next."""
        tls = (self.dovecot.cert_path, os.path.join(self.dovecot.root, "tls", "key.pem"))
        proxy = ByeProxy(self.dovecot.port_imap, tls=tls).start()
        self.addCleanup(proxy.stop)
        mailbox_id, login = self.oauth_mailbox("gmail", push_enabled=True, port=proxy.port)
        (token,) = self.committed(mailbox_id, "google_gmail_access_token")
        watched = LogWaiter(push._logger)
        self.addCleanup(watched.close)
        listener = self.start_listener()
        self.assertEqual(listener.refresh(), {mailbox_id})
        msgid, raw = self.message("before")
        self.dovecot.append(login, raw)
        self.assertTrue(self.wait_stored(mailbox_id, msgid, 10))
        # the event, not the clock: the session is ended while the listener idles again after
        # that sync, as Exchange does (ended earlier, in the sync's own session or in the check
        # after it, the test would be about another moment, on a slower machine)
        self.assertTrue(watched.wait_for(idling_after_a_sync, 30), watched.lines)

        with self.assertLogs(push._logger, logging.INFO) as logs:
            self.provider.expire(token)
            self.assertTrue(proxy.end_sessions(), "the IDLE session is relayed")
            msgid, raw = self.message("after")
            self.dovecot.append(login, raw)
            self.assertTrue(self.wait_stored(mailbox_id, msgid, 20), "imported after the BYE")
        self.assertTrue(
            any(
                "AccessTokenExpired" in line and "logging in again" in line for line in logs.output
            ),
            logs.output,
        )
        self.assertFalse([line for line in logs.output if "reconnecting in" in line], "no backoff")
        self.assertEqual(len(self.provider.refreshes(login)), 1, "one fresh token")

    # -- Microsoft 365 shared mailboxes ------------------------------------------------------------
    def test_shared_mailbox_opened_with_a_delegates_token(self):
        """The login names the shared mailbox, the token is its delegate's: it opens the
        shared mailbox while the delegate has Full Access, and says what to check when not."""
        delegate = f"delegate.{time.time_ns()}@{OUR_DOMAIN}"
        mailbox_id, shared = self.oauth_mailbox("outlook", expired=True, delegate=delegate)
        msgid, raw = self.message("shared")
        self.dovecot.append(shared, raw)

        self.assertFalse(self.sync(mailbox_id).get("error"))
        self.assertIn(msgid, self.stored_ids(mailbox_id))
        self.assertEqual(len(self.provider.refreshes(delegate)), 1, "the delegate's token")
        self.assertIn(f"user=<{shared}>, method=XOAUTH2", self.dovecot.log_tail(200))

        self.provider.accounts[delegate].opens = None  # Full Access removed
        with self.registry.cursor() as cr:  # and the token is due for renewal
            self.env_of(cr)["fetchmail.server"].browse(mailbox_id).write(
                {"microsoft_outlook_access_token_expiration": 1}
            )
        error = self.sync(mailbox_id)["error"]
        self.assertIn("full access", error)
        self.assertIn("refused the Microsoft login", error)
        self.assertEqual(self.committed(mailbox_id, "reconnect_needed"), [True], "another delegate")

    def test_token_saved_by_another_process_during_a_sync(self):
        """The listener saves a renewed token on the mailbox's row while the cron's sync
        runs with an older snapshot: the sync still stores its mail (rows that refer to the
        mailbox) and records its outcome (in a fresh transaction), and uses the new token."""
        mailbox_id, login = self.oauth_mailbox("outlook")
        msgid, raw = self.message("meanwhile")
        self.dovecot.append(login, raw)
        with self.registry.cursor() as cr:
            env = self.env_of(cr)
            mailbox = env["fetchmail.server"].browse(mailbox_id)
            self.assertTrue(mailbox.name)  # the sync's transaction has its snapshot
            with self.registry.cursor() as other:  # the listener, committing its new token
                other_env = self.env_of(other)
                renewed = other_env["mailbox.oauth"]._token(
                    other_env["fetchmail.server"].browse(mailbox_id), force=True
                )
            result = env["mailbox.sync"].sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertIn(msgid, self.stored_ids(mailbox_id))
        self.assertEqual(len(self.provider.refreshes(login)), 1, "the sync used the new token")
        self.assertEqual(
            self.committed(mailbox_id, "microsoft_outlook_access_token", "last_error"),
            [renewed.sasl.split("Bearer ")[1].strip("\1"), False],
        )
