"""Secrets at rest (issue 13, item 4): the pure crypto module on its own, then the mailbox
password as PostgreSQL holds it, with the sync still logging in to the private Dovecot."""

import logging
import os
import subprocess
import sys
import tempfile
import unittest
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL, config

from odoo.addons.mail_crm_link import compat
from odoo.addons.mail_crm_link.mailflow import secrets
from odoo.addons.mail_crm_link.models.fields_extra import CONFIG_KEY, SecretChar
from odoo.addons.mail_crm_link.services.mailbox_oauth import PROVIDERS

from .common import MailCrmLinkCommon


class TestSecretsPure(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.key = secrets.generate_key()
        self.keys = secrets.load_keys(self.key)

    def test_round_trip_and_prefix(self):
        token = secrets.encrypt("pässwörd with spaces", self.keys)
        self.assertTrue(token.startswith(secrets.PREFIX))
        self.assertNotIn("pässwörd", token)
        self.assertEqual(secrets.decrypt(token, self.keys), "pässwörd with spaces")
        # a fresh IV each time: equal passwords do not show as equal columns
        self.assertNotEqual(token, secrets.encrypt("pässwörd with spaces", self.keys))

    def test_without_key_values_stay_as_they_are(self):
        self.assertIsNone(secrets.load_keys(None))
        self.assertIsNone(secrets.load_keys(" , "))
        self.assertEqual(secrets.encrypt("plain", None), "plain")
        self.assertEqual(secrets.decrypt("plain", None), "plain")
        self.assertEqual(secrets.decrypt("plain", self.keys), "plain")  # legacy value
        for empty in (False, None, ""):
            self.assertEqual(secrets.encrypt(empty, self.keys), empty)

    def test_encrypted_value_without_its_key_is_unreadable(self):
        token = secrets.encrypt("secret", self.keys)
        with self.assertRaises(secrets.SecretUnreadable):
            secrets.decrypt(token, None)
        with self.assertRaises(secrets.SecretUnreadable):
            secrets.decrypt(token, secrets.load_keys(secrets.generate_key()))

    def test_never_encrypted_twice(self):
        token = secrets.encrypt("secret", self.keys)
        self.assertEqual(secrets.encrypt(token, self.keys), token)

    def test_invalid_key_is_refused_without_showing_it(self):
        with self.assertRaises(secrets.SecretKeyError) as caught:
            secrets.load_keys(f"{self.key}, not-a-key-at-all")
        self.assertIn("key number 2", str(caught.exception))
        self.assertNotIn("not-a-key-at-all", str(caught.exception))
        self.assertNotIn(self.key, str(caught.exception))

    def test_rotation_first_key_encrypts_every_key_decrypts(self):
        old = secrets.generate_key()
        token_old = secrets.encrypt("secret", secrets.load_keys(old))
        ring = secrets.load_keys(f"{self.key},{old}")
        self.assertEqual(secrets.decrypt(token_old, ring), "secret")
        rotated = secrets.migrate(token_old, ring)
        self.assertNotEqual(rotated, token_old)
        self.assertEqual(secrets.decrypt(rotated, self.keys), "secret")  # new key alone
        self.assertEqual(secrets.migrate(rotated, ring), rotated)  # idempotent

    def test_migrate_plain_values(self):
        migrated = secrets.migrate("plain", self.keys)
        self.assertTrue(secrets.is_encrypted(migrated))
        self.assertEqual(secrets.decrypt(migrated, self.keys), "plain")
        self.assertEqual(secrets.migrate("plain", None), "plain")
        with self.assertRaises(secrets.SecretUnreadable):
            secrets.migrate(migrated, secrets.load_keys(secrets.generate_key()))

    def test_prefix_is_not_a_fernet_alphabet_character(self):
        # so that a Fernet token (URL-safe base64) never looks like an encrypted value
        self.assertIn("$", secrets.PREFIX)
        self.assertNotIn("$", Fernet.generate_key().decode())


@tagged("post_install", "-at_install")
class TestSecretsAtRest(MailCrmLinkCommon):
    def setUp(self):
        super().setUp()
        self.key = secrets.generate_key()
        self.enterContext(patch.dict(config.options, {CONFIG_KEY: self.key}))

    def column(self, mailbox, name="password"):
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                "SELECT %s FROM fetchmail_server WHERE id = %s",
                SQL.identifier(name),
                mailbox.id,
            )
        )
        return rows[0][0]

    def test_password_field_is_a_secret_field(self):
        self.assertIsInstance(self.env["fetchmail.server"]._fields["password"], SecretChar)
        self.assertEqual(
            self.env["fetchmail.server"]._fields["password"].groups, "base.group_system"
        )

    def test_column_holds_ciphertext_and_sync_logs_in(self):
        login = self.make_mail_user(password="S3cret-at-rest")
        self.dovecot.append(login, self.corpus.message(subject="Encrypted login"))
        mailbox = self.make_mailbox(login)
        stored = self.column(mailbox)
        self.assertTrue(stored.startswith(secrets.PREFIX))
        self.assertNotIn("S3cret-at-rest", stored)
        self.assertEqual(secrets.decrypt(stored, secrets.load_keys(self.key)), "S3cret-at-rest")
        self.env.invalidate_all()
        self.assertEqual(mailbox.password, "S3cret-at-rest")  # the ORM reads it clear
        self.assertEqual(mailbox.read(["password"])[0]["password"], "S3cret-at-rest")

        result = self.sync(mailbox)
        self.assertFalse(result.get("error"), result)
        self.assertEqual(self.stored(mailbox).subject, "Encrypted login")
        # Odoo's own "Test & Confirm" path too (the native fetchmail connect)
        mailbox.button_confirm_login()
        self.assertEqual(mailbox.state, "done")

    def test_native_fetchmail_reads_the_clear_password(self):
        login = self.make_mail_user(password="Native-S3cret")
        mailbox = self.make_mailbox(login, crm_link_mode="off")
        self.assertTrue(self.column(mailbox).startswith(secrets.PREFIX))
        self.env.invalidate_all()
        connection = compat.fetchmail_connect(mailbox)  # Odoo's own LOGIN user password
        connection.logout()

    def test_a_new_password_is_encrypted_again(self):
        mailbox = self.make_mailbox(self.make_mail_user())
        first = self.column(mailbox)
        mailbox.password = "another one"
        second = self.column(mailbox)
        self.assertNotEqual(first, second)
        self.assertTrue(second.startswith(secrets.PREFIX))
        mailbox.password = False
        self.assertIsNone(self.column(mailbox))

    def test_legacy_plain_values_stay_readable_then_are_encrypted(self):
        login = self.make_mail_user(password="Legacy-S3cret")
        with patch.dict(config.options, {CONFIG_KEY: ""}):
            with self.assertLogs("odoo.addons.mail_crm_link", level="WARNING") as logs:
                self.env["fetchmail.server"]._mcl_check_secret_key()
            self.assertIn("no mail_crm_link_secret_key", logs.output[0])
            mailbox = self.make_mailbox(login)
            self.assertEqual(self.column(mailbox), "Legacy-S3cret")  # as before this change
        # the key appears: the plain value still works, then the method encrypts it
        self.env.invalidate_all()
        self.assertEqual(mailbox.password, "Legacy-S3cret")
        with self.assertLogs("odoo.addons.mail_crm_link", level="WARNING") as logs:
            self.env["fetchmail.server"]._mcl_check_secret_key()
        self.assertIn("still stored in clear", "\n".join(logs.output))
        self.assertGreaterEqual(self.env["fetchmail.server"]._mcl_encrypt_secrets(), 1)
        self.assertTrue(self.column(mailbox).startswith(secrets.PREFIX))
        self.assertEqual(mailbox.password, "Legacy-S3cret")
        self.assertEqual(self.env["fetchmail.server"]._mcl_encrypt_secrets(), 0)  # idempotent
        self.assertFalse(self.sync(mailbox).get("error"))

    def test_key_rotation(self):
        mailbox = self.make_mailbox(self.make_mail_user(password="Rotated-S3cret"))
        old_column = self.column(mailbox)
        new_key = secrets.generate_key()
        with patch.dict(config.options, {CONFIG_KEY: f"{new_key},{self.key}"}):
            self.env.invalidate_all()
            self.assertEqual(mailbox.password, "Rotated-S3cret")  # old key still opens it
            self.assertEqual(self.env["fetchmail.server"]._mcl_encrypt_secrets(), 1)
            self.assertNotEqual(self.column(mailbox), old_column)
        with patch.dict(config.options, {CONFIG_KEY: new_key}):  # the old key removed
            self.env.invalidate_all()
            self.assertEqual(mailbox.password, "Rotated-S3cret")
            self.assertFalse(self.sync(mailbox).get("error"))

    def test_missing_key_says_so_and_never_logs_in_with_ciphertext(self):
        mailbox = self.make_mailbox(self.make_mail_user(password="Lost-key-S3cret"))
        with patch.dict(config.options, {CONFIG_KEY: ""}):
            self.env.invalidate_all()
            with self.assertRaises(UserError) as caught:
                mailbox.button_confirm_login()
            self.assertIn("encrypted with a key this server does not have", str(caught.exception))
            with self.assertLogs("odoo.addons.mail_crm_link", level="WARNING"):
                result = self.sync(mailbox)
            self.assertIn("encrypted with a key this server does not have", result["error"])

    def test_secrets_never_logged(self):
        """Every log line of a failing sync, a successful one and the migration: no password,
        clear or encrypted."""
        login = self.make_mail_user(password="Right-S3cret")
        mailbox = self.make_mailbox(login, password="Wrong-S3cret")
        ciphertext = self.column(mailbox)
        root = logging.getLogger()
        with self.assertLogs(root, level="INFO") as logs:  # the production level
            self.sync(mailbox)
            mailbox.password = "Right-S3cret"
            self.sync(mailbox)
            self.env["fetchmail.server"]._mcl_check_secret_key()
            self.env["fetchmail.server"]._mcl_encrypt_secrets()
        text = "\n".join(logs.output)
        for secret in ("Wrong-S3cret", "Right-S3cret", ciphertext, self.key):
            self.assertNotIn(secret, text)

    def test_invalid_key_is_an_error_at_startup_and_values_stay_readable(self):
        mailbox = self.make_mailbox(self.make_mail_user(password="Readable"))
        with patch.dict(config.options, {CONFIG_KEY: "not-a-fernet-key"}):
            with self.assertLogs("odoo.addons.mail_crm_link", level="ERROR") as logs:
                self.env["fetchmail.server"]._mcl_check_secret_key()
            self.assertIn("is not valid", logs.output[0])
            self.assertNotIn("not-a-fernet-key", logs.output[0])
            with self.assertRaises(UserError):
                self.env["fetchmail.server"]._mcl_encrypt_secrets()
        self.env.invalidate_all()
        self.assertEqual(mailbox.password, "Readable")

    def test_invalid_key_refuses_to_save_a_secret_in_clear(self):
        """Issue 23, finding 12: a mistyped key used to be swallowed, and the new password
        was then written in clear."""
        mailbox = self.make_mailbox(self.make_mail_user(password="Before"))
        before = self.column(mailbox)
        with patch.dict(config.options, {CONFIG_KEY: "not-a-fernet-key"}):
            with self.assertRaises(UserError) as caught:
                mailbox.password = "Typed-in-clear"
                self.env.flush_all()
            self.assertIn(CONFIG_KEY, str(caught.exception))
            self.assertNotIn("not-a-fernet-key", str(caught.exception))
        self.env.invalidate_all()
        self.assertEqual(self.column(mailbox), before)
        self.assertNotIn("Typed-in-clear", str(self.column(mailbox)))

    def test_token_no_key_opens_is_never_sent_to_the_provider(self):
        """Issue 23, finding 12: a token this server cannot decrypt used to go to the provider
        as ciphertext (and come back as a withdrawn consent). ``_token`` checks this before
        it calls Odoo's refresh."""
        mailbox = self.make_mailbox(
            server_type="gmail",
            connection_security="ssl",
            google_gmail_refresh_token="refresh-S3cret",
            google_gmail_access_token="access-S3cret",
            google_gmail_access_token_expiration=0,
        )
        self.assertTrue(
            self.column(mailbox, "google_gmail_refresh_token").startswith(secrets.PREFIX)
        )
        with patch.dict(config.options, {CONFIG_KEY: secrets.generate_key()}):  # another key
            self.env.invalidate_all()
            with self.assertRaises(UserError) as caught:  # the first step of ``_token``
                self.env["mailbox.oauth"]._check_readable(mailbox, PROVIDERS["gmail"])
        self.assertIn(CONFIG_KEY, str(caught.exception))
        self.assertIn("cannot use", str(caught.exception))

    def test_only_administrators_encrypt(self):
        with self.assertRaisesRegex(UserError, "Only administrators"):
            self.env["fetchmail.server"].with_user(self.user_sales_manager)._mcl_encrypt_secrets()


@tagged("post_install", "-at_install")
class TestSecretKeyAtStartup(MailCrmLinkCommon):
    """The startup check, in a real Odoo process loading this database's registry."""

    def start_odoo(self, key):
        with open(config.rcfile, encoding="utf-8") as handle:
            lines = [line for line in handle if not line.startswith(CONFIG_KEY)]
        if key is not None:
            lines.append(f"{CONFIG_KEY} = {key}\n")
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
            conf.writelines(lines)
        self.addCleanup(os.unlink, conf.name)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "odoo",
                "shell",
                "-c",
                conf.name,
                "-d",
                self.env.cr.dbname,
                "--no-http",
                "--log-level=warn",
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return result.stdout + result.stderr

    def test_missing_key_is_a_warning_at_startup(self):
        output = self.start_odoo(None)
        self.assertIn("WARNING", output)
        self.assertIn(f"no {CONFIG_KEY} in the server configuration", output)

    def test_invalid_key_is_an_error_at_startup_without_the_key(self):
        output = self.start_odoo("This-is-not-a-Fernet-key")
        self.assertIn(f"option {CONFIG_KEY} of the server configuration is not valid", output)
        self.assertNotIn("This-is-not-a-Fernet-key", output)
