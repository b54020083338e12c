""" "Connect my mailbox" (issue 13, item 3): a sales user connects their own mailbox against
the private Dovecot, the connection test says in one sentence what is wrong, the personal
mailbox gets the administrators' policy, and the rights hold over JSON-RPC."""

import unittest
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, JsonRpcException, tagged
from odoo.tools import SQL, config

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.mail_crm_link.mailflow import presets, secrets
from odoo.addons.mail_crm_link.models.fields_extra import CONFIG_KEY
from odoo.addons.mail_crm_link.wizards.mailbox_connect import (
    PARAM_ENABLED,
    PARAM_PORTS,
    PARAM_TEMPLATE,
)

from .common import OUR_DOMAIN, MailCrmLinkCommon, use_savepoints_for_commits
from .dovecot import free_port, get_server


class TestConnectPresetsPure(unittest.TestCase):
    def test_detection_from_the_address(self):
        self.assertEqual(presets.detect("Anna <anna@GMAIL.com>").key, "gmail")
        self.assertEqual(presets.detect("olena@ukr.net").key, "ukrnet")
        self.assertEqual(presets.detect("ivan@yandex.ru").host, "imap.yandex.com")
        self.assertEqual(presets.detect("marco@libero.it").host, "imapmail.libero.it")
        self.assertEqual(presets.detect("bob@hotmail.com").auth, presets.OAUTH)
        self.assertIsNone(presets.detect("sales@mycompany.example"))
        self.assertIsNone(presets.detect("not an address"))

    def test_presets_are_imap_over_tls(self):
        for preset in presets.PRESETS:
            self.assertEqual((preset.port, preset.security), (993, "ssl"), preset.key)
        domains = [d for p in presets.PRESETS for d in p.domains]
        self.assertEqual(len(domains), len(set(domains)))

    def test_failure_kinds_tell_host_and_port_apart(self):
        import socket

        self.assertEqual(presets.failure_kind(socket.gaierror(-2, "x")), presets.HOST_NOT_FOUND)
        self.assertEqual(presets.failure_kind(ConnectionRefusedError(111, "x")), presets.REFUSED)
        self.assertEqual(presets.failure_kind(TimeoutError()), "timeout")


class ConnectCommon(MailCrmLinkCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.closed_port = free_port()
        dovecot = get_server()
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param(PARAM_ENABLED, "True")
        params.set_param(
            PARAM_PORTS,
            ",".join(str(p) for p in (dovecot.port_imap, dovecot.port_imaps, cls.closed_port)),
        )

    def setUp(self):
        super().setUp()
        self.enterContext(patch.dict(config.options, {CONFIG_KEY: secrets.generate_key()}))

    def wizard(self, user=None, **values):
        login = values.pop("login", None) or self.make_mail_user(password="My-S3cret")
        vals = {
            "email": login,
            "provider": "other",
            "server": self.dovecot.host,
            "port": self.dovecot.port_imap,
            "connection_security": "none",
            "password": "My-S3cret",
        }
        vals.update(values)
        return self.env["mailbox.connect"].with_user(user or self.user_sales_salesman).create(vals)

    def sentence(self, **values):
        wizard = self.wizard(**values)
        wizard.action_test()
        return wizard.test_state, wizard.test_message


@tagged("post_install", "-at_install")
class TestConnectMyMailbox(ConnectCommon):
    def test_connection_test_says_what_is_wrong(self):
        self.assertEqual(self.sentence()[0], "ok")
        state, message = self.sentence(password="wrong")
        self.assertEqual(state, "failed")
        self.assertIn("refused the user name or the password", message)
        self.assertIn("There is no server named", self.sentence(server="no-such-host.invalid")[1])
        self.assertIn("refused the connection on port", self.sentence(port=self.closed_port)[1])
        # SSL spoken to a plain-text port; a self-signed certificate, verified
        self.assertIn("secure connection", self.sentence(connection_security="ssl")[1])
        self.assertIn(
            "certificate",
            self.sentence(connection_security="ssl", port=self.dovecot.port_imaps)[1],
        )

    def test_users_cannot_aim_the_server_at_any_port(self):
        state, message = self.sentence(port=5432)  # the test says so, and logs in nowhere
        self.assertEqual(state, "failed")
        self.assertIn("is not a mail port", message)
        with self.assertRaisesRegex(UserError, "is not a mail port"):
            self.wizard(port=5432).action_connect()

    def test_gmail_preset_and_outlook_needs_oauth(self):
        wizard = (
            self.env["mailbox.connect"]
            .with_user(self.user_sales_salesman)
            .create({"email": "anna.rossi@gmail.com"})
        )
        self.assertEqual(
            (wizard.provider, wizard.server, wizard.port, wizard.connection_security),
            ("gmail", "imap.gmail.com", 993, "ssl"),
        )
        self.assertIn("app password", wizard.provider_note)
        outlook = (
            self.env["mailbox.connect"]
            .with_user(self.user_sales_salesman)
            .create({"email": "bob@outlook.com", "password": "x"})
        )
        self.assertEqual(outlook.auth, "oauth")
        self.assertIn("no longer accepts passwords", outlook.provider_note)
        self.assertFalse(outlook.oauth_available)  # microsoft_outlook is not installed here
        self.assertIn("microsoft_outlook", outlook.oauth_note)
        with self.assertRaisesRegex(UserError, "no longer accepts passwords"):
            outlook.action_connect()

    def test_connect_creates_a_personal_mailbox_with_the_default_policy(self):
        template = self.env["fetchmail.server"].create(
            {
                "name": "Policy of personal mailboxes",
                "server_type": "imap",
                "server": "template.invalid",
                "user": "template",
                "password": "template-password",
                "crm_link_mode": "auto",
                "active": False,
                "incoming_unknown_action": "contact",
                "known_action": "none",
                "team_id": self.sales_team_1.id,
                "private_addresses": "family.example",
                "internal_domains": OUR_DOMAIN,
            }
        )
        self.env["ir.config_parameter"].sudo().set_param(PARAM_TEMPLATE, str(template.id))
        login = self.make_mail_user(password="My-S3cret")
        self.dovecot.append(login, self.corpus.message(subject="Mail of my own"))
        action = self.wizard(login=login).action_connect()

        mailbox = self.env["fetchmail.server"].search([("user", "=", login)])
        self.assertEqual(action["res_id"], mailbox.id)
        self.assertEqual(mailbox.owner_id, self.user_sales_salesman)
        self.assertEqual(mailbox.mailbox_access, "personal")
        self.assertEqual(mailbox.state, "done")
        self.assertTrue(mailbox.mcl_connected_by_owner)
        self.assertEqual(mailbox.email_address, login.lower())
        self.assertEqual(
            (
                mailbox.crm_link_mode,
                mailbox.incoming_unknown_action,
                mailbox.known_action,
                mailbox.team_id,
                mailbox.private_addresses,
            ),
            ("auto", "contact", "none", self.sales_team_1, "family.example"),
        )
        self.assertNotEqual(mailbox.server, template.server)
        self.assertTrue(mailbox.folder_ids.filtered(lambda f: f.role == "inbox"))
        self.env.flush_all()
        column = self.env.execute_query(
            SQL("SELECT password FROM fetchmail_server WHERE id = %s", mailbox.id)
        )[0][0]
        self.assertTrue(secrets.is_encrypted(column))
        wizard_columns = self.env.execute_query(SQL("SELECT password FROM mailbox_connect"))
        self.assertFalse([c for (c,) in wizard_columns if c and "My-S3cret" in c])

        # the user sees it syncing: status, then mail after the cron's sync
        mine = mailbox.with_user(self.user_sales_salesman)
        self.assertEqual(mine.mcl_status, "waiting")
        self.sync(mailbox)
        self.assertEqual(mine.mcl_status, "ok")
        self.assertEqual(mine.count_new + mine.count_linked + mine.count_ignored, 1)

        # disconnect: no sync, no secret, the mail stays
        mine.action_mcl_disconnect()
        self.assertEqual(mailbox.state, "draft")
        self.assertFalse(mailbox.password)
        self.assertIsNone(
            self.env.execute_query(
                SQL("SELECT password FROM fetchmail_server WHERE id = %s", mailbox.id)
            )[0][0]
        )
        self.assertEqual(mine.mcl_status, "disconnected")
        self.assertEqual(len(self.stored(mailbox)), 1)
        self.assertNotIn(mailbox.id, self.env["mailbox.sync"]._due_mailbox_ids())

        # reconnecting updates the same mailbox
        self.wizard(login=login).action_connect()
        self.assertEqual(self.env["fetchmail.server"].search_count([("user", "=", login)]), 1)
        self.assertEqual(mailbox.state, "done")

    def test_context_defaults_do_not_choose_what_the_administrators_decide(self):
        """Review of issue 13: the mailbox is created as superuser with the caller's context,
        and a JSON-RPC caller chooses that context. ``default_*`` keys must not set the
        policy (no template: the documented default), the server action run as superuser on
        every mail, the outgoing server, or another mailbox's forwarding alias."""
        anything = self.env["ir.actions.server"].create(
            {
                "name": "Some administrators' action",
                "model_id": self.env.ref("mail_crm_link.model_mailbox_message").id,
                "state": "code",
                "code": "pass",
            }
        )
        smtp = self.env["ir.mail_server"].create(
            {"name": "CEO's SMTP", "smtp_host": "127.0.0.1", "smtp_port": 25}
        )
        login = self.make_mail_user(password="My-S3cret")
        self.wizard(login=login).with_context(
            default_server_action_id=anything.id,
            default_incoming_unknown_action="none",
            default_mail_server_id=smtp.id,
            default_forward_alias="mcl-1-0123456789abcdef",
            default_member_ids=[(6, 0, [self.user_admin.id])],
        ).action_connect()

        mailbox = self.env["fetchmail.server"].search([("user", "=", login)])
        self.assertEqual(len(mailbox), 1)
        self.assertFalse(mailbox.server_action_id, "the user chose a server action")
        self.assertNotEqual(mailbox.incoming_unknown_action, "none", "the user chose the policy")
        self.assertFalse(mailbox.mail_server_id, "the user chose the outgoing server")
        self.assertFalse(mailbox.forward_alias, "the user chose a forwarding alias")
        self.assertFalse(mailbox.member_ids)

    def test_not_allowed_when_the_administrator_said_no(self):
        self.env["ir.config_parameter"].sudo().set_param(PARAM_ENABLED, "False")
        wizard = self.wizard()
        self.assertFalse(wizard.allowed)
        with self.assertRaisesRegex(UserError, "not allowed users to connect"):
            wizard.action_connect()
        self.assertTrue(self.wizard(user=self.user_admin).allowed)

    def test_owner_only_buttons(self):
        mailbox = self.make_mailbox(mailbox_access="personal", owner_id=self.user_sales_leads.id)
        with self.assertRaises(AccessError):
            mailbox.with_user(self.user_sales_salesman).action_mcl_disconnect()
        with self.assertRaises(AccessError):
            mailbox.with_user(self.user_sales_salesman).action_mcl_sync_mine()
        self.assertEqual(mailbox.state, "done")

    def test_my_mailbox_in_the_preferences_of_sales_users(self):
        view = self.env.ref("base.view_users_form_simple_modif")
        action = self.env.ref("mail_crm_link.action_my_mailbox")
        for user, shown in ((self.user_sales_salesman, True), (self.user_no_crm, False)):
            arch = (
                self.env["res.users"]
                .with_user(user)
                .get_views([(view.id, "form")])["views"]["form"]["arch"]
            )
            self.assertEqual(f'name="{action.id}"' in arch, shown, user.login)

    def test_my_mailbox_opens_the_wizard_then_the_mailbox(self):
        Connect = self.env["mailbox.connect"].with_user(self.user_sales_salesman)
        self.assertEqual(Connect.action_my_mailbox()["res_model"], "mailbox.connect")
        self.wizard().action_connect()
        action = Connect.action_my_mailbox()
        self.assertEqual(action["res_model"], "fetchmail.server")
        self.assertTrue(action["res_id"])


@tagged("post_install", "-at_install")
class TestConnectRightsOverRpc(HttpCase):
    """What a sales user can do with crafted JSON-RPC calls, not only with the buttons."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        groups = "base.group_user,sales_team.group_sale_salesman"
        cls.me = mail_new_test_user(env, login="connect_me", groups=groups)
        cls.other = mail_new_test_user(env, login="connect_other", groups=groups)
        values = {
            "server_type": "imap",
            "server": "127.0.0.1",
            "crm_link_mode": "auto",
            "mailbox_access": "personal",
            "state": "done",
        }
        cls.mine = env["fetchmail.server"].create(
            {**values, "name": "Mine", "user": "me", "password": "my-S3cret", "owner_id": cls.me.id}
        )
        cls.theirs = env["fetchmail.server"].create(
            {
                **values,
                "name": "Theirs",
                "user": "other",
                "password": "their-S3cret",
                "owner_id": cls.other.id,
            }
        )
        cls.shared = env["fetchmail.server"].create(
            {
                **values,
                "name": "Shared",
                "user": "s",
                "password": "shared-S3cret",
                "mailbox_access": "shared",
            }
        )

    def setUp(self):
        super().setUp()
        use_savepoints_for_commits(self)
        self.authenticate("connect_me", "connect_me")

    def call(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def test_sees_own_and_shared_mailboxes_only(self):
        found = self.call("fetchmail.server", "search_read", [], fields=["name"])
        self.assertEqual(sorted(r["name"] for r in found), ["Mine", "Shared"])
        with self.assertRaises(JsonRpcException):
            self.call("fetchmail.server", "read", [self.theirs.id], ["name"])

    def test_no_password_not_even_their_own(self):
        for mailbox in (self.mine, self.shared):
            with self.assertRaises(JsonRpcException) as caught:
                self.call("fetchmail.server", "read", [mailbox.id], ["password"])
            self.assertIn("AccessError", str(caught.exception.args))
        fields = self.call("fetchmail.server", "fields_get", attributes=["type"])
        self.assertNotIn("password", fields)
        page = self.call(
            "fetchmail.server", "web_read", [self.mine.id], specification={"name": {}, "user": {}}
        )
        self.assertNotIn("password", page[0])

    def test_cannot_change_the_policy_or_the_owner(self):
        for values in (
            {"incoming_unknown_action": "none"},
            {"crm_link_mode": "off"},
            {"owner_id": self.other.id},
            {"password": "x"},
        ):
            with self.assertRaises(JsonRpcException):
                self.call("fetchmail.server", "write", [self.mine.id], values)
        with self.assertRaises(JsonRpcException):
            self.call("fetchmail.server", "create", {"name": "Mine too", "server": "x"})
        self.mine.invalidate_recordset()
        self.assertEqual(self.mine.incoming_unknown_action, "lead")
        self.assertEqual(self.mine.owner_id, self.me)

    def test_buttons_only_on_their_own_mailbox(self):
        with self.assertRaises(JsonRpcException):
            self.call("fetchmail.server", "action_mcl_disconnect", [self.theirs.id])
        with self.assertRaises(JsonRpcException):
            self.call("fetchmail.server", "action_mcl_disconnect", [self.shared.id])
        self.theirs.invalidate_recordset()
        self.assertEqual(self.theirs.state, "done")
        self.assertTrue(self.theirs.password)
        self.call("fetchmail.server", "action_mcl_disconnect", [self.mine.id])
        self.mine.invalidate_recordset()
        self.assertEqual(self.mine.state, "draft")
        self.assertFalse(self.mine.password)

    def test_another_users_wizard_and_its_password_are_out_of_reach(self):
        theirs = (
            self.env["mailbox.connect"]
            .with_user(self.other)
            .create({"email": "other@example.com", "password": "typed-S3cret"})
        )
        found = self.call("mailbox.connect", "search_read", [], fields=["password"])
        self.assertNotIn(theirs.id, [r["id"] for r in found])
        with self.assertRaises(JsonRpcException):
            self.call("mailbox.connect", "read", [theirs.id], ["password"])
        with self.assertRaises(JsonRpcException):
            self.call("mailbox.connect", "action_connect", [theirs.id])

    def test_the_wizard_has_no_way_to_name_a_mailbox(self):
        """The wizard's fields are the connection only: no owner, no mailbox id, no policy."""
        fields = self.call("mailbox.connect", "fields_get", attributes=["type"])
        for name in ("owner_id", "mailbox_id", "incoming_unknown_action", "crm_link_mode"):
            self.assertNotIn(name, fields)
