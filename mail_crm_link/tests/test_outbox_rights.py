"""Rights of the composer over JSON-RPC (issue 12): a sales user with "own documents" who
crafts a composer naming another user's private file, or answering a private mail of another
user's personal mailbox, is refused; nothing is queued, nothing reaches the SMTP listener.
And no outgoing server reaches the web client as a sentence, not as a server error."""

import json

from odoo.tests import HttpCase, JsonRpcException, tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from .. import compat
from .common import CLIENT_DOMAIN, OUR_DOMAIN, use_savepoints_for_commits
from .smtp_sink import get_sink


@tagged("post_install", "-at_install")
class TestComposerRights(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.salesman = mail_new_test_user(
            env,
            login="outbox_salesman",
            name="Sara Salesman",
            email=f"sara@{OUR_DOMAIN}",
            groups="base.group_user,base.group_partner_manager,sales_team.group_sale_salesman",
        )
        cls.colleague = mail_new_test_user(
            env,
            login="outbox_colleague",
            name="Carlo Colleague",
            email=f"carlo@{OUR_DOMAIN}",
            groups="base.group_user,base.group_partner_manager,sales_team.group_sale_salesman",
        )
        server = env["ir.mail_server"].create(get_sink().mail_server_values())
        mailbox_values = {
            "server_type": "imap",
            "server": "127.0.0.1",
            "crm_link_mode": "auto",
            "internal_domains": OUR_DOMAIN,
            "mail_server_id": server.id,
            "state": "done",
        }
        cls.shared = env["fetchmail.server"].create(
            {**mailbox_values, "name": "Sales", "email_address": f"sales@{OUR_DOMAIN}"}
        )
        personal = env["fetchmail.server"].create(
            {
                **mailbox_values,
                "name": "Carlo's mailbox",
                "email_address": f"carlo@{OUR_DOMAIN}",
                "mailbox_access": "personal",
                "owner_id": cls.colleague.id,
            }
        )
        cls.private_mail = env["mailbox.message"].create(
            {
                "mailbox_id": personal.id,
                "dedup_key": f"<private.1@{CLIENT_DOMAIN}>",
                "message_id": f"<private.1@{CLIENT_DOMAIN}>",
                "subject": "Trattativa riservata",
                "email_from": f"avvocato@{CLIENT_DOMAIN}",
                "direction": "incoming",
                "private": True,
            }
        )
        cls.client = env["res.partner"].create(
            {
                "name": "Giulia Rossi",
                "email": f"giulia.rossi@{CLIENT_DOMAIN}",
                "user_id": cls.salesman.id,
            }
        )
        cls.contract = (
            env["ir.attachment"]
            .with_user(cls.colleague)
            .create(
                {"name": "contratto.pdf", "raw": b"%PDF-1.4 private", "mimetype": "application/pdf"}
            )
        )

    def setUp(self):
        super().setUp()
        use_savepoints_for_commits(self)  # the outbox commits; here, savepoints

    def composer_values(self, **values):
        return {
            "res_model": "res.partner",
            "res_id": self.client.id,
            "mailbox_id": self.shared.id,
            "email_to": self.client.email,
            "subject": "Ecco il contratto",
            "body": "<p>In allegato.</p>",
            **values,
        }

    def send_over_rpc(self, values):
        """What the web client does: create the composer, then press Send."""
        self.authenticate("outbox_salesman", "outbox_salesman")
        composer_id = self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {"model": "mailbox.compose", "method": "create", "args": [values], "kwargs": {}},
        )
        return self.make_jsonrpc_request(
            "/web/dataset/call_button",
            {
                "model": "mailbox.compose",
                "method": "action_send",
                "args": [[composer_id]],
                "kwargs": {},
            },
        )

    def assert_nothing_sent(self):
        self.assertFalse(
            self.env["mailbox.message"].search(
                [("mailbox_id", "=", self.shared.id), ("send_state", "!=", False)]
            ),
            "nothing may be queued",
        )
        sink = get_sink()
        sink.reset()
        with compat.real_smtp(self.env):  # Odoo sends nothing in tests unless told to
            self.env[
                "mailbox.outbox"
            ]._send_queued()  # what the post-commit hook and the cron would do
        self.assertFalse(sink.messages)

    def test_the_user_sends_what_they_may(self):
        """The same request with the user's own file works (the refusals below are about
        the file and the mail, not about sending)."""
        own = (
            self.env["ir.attachment"]
            .with_user(self.salesman)
            .create(
                {"name": "listino.pdf", "raw": b"%PDF-1.4 prices", "mimetype": "application/pdf"}
            )
        )
        self.send_over_rpc(self.composer_values(attachment_ids=[(6, 0, own.ids)]))
        queued = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.shared.id), ("send_state", "=", "queued")]
        )
        self.assertEqual(queued.attachment_ids.mapped("name"), ["listino.pdf"])
        sink = get_sink()
        sink.reset()
        with compat.real_smtp(self.env):  # Odoo sends nothing in tests unless told to
            self.env["mailbox.outbox"]._send_queued()
        self.assertEqual(len(sink.messages), 1)

    def test_another_users_private_file_is_refused(self):
        with self.assertRaises(JsonRpcException) as refused:
            self.send_over_rpc(self.composer_values(attachment_ids=[(6, 0, self.contract.ids)]))
        self.assertIn("AccessError", str(refused.exception))
        self.assert_nothing_sent()
        # its content was not copied into the CRM either
        self.assertEqual(
            self.env["ir.attachment"].search_count([("name", "=", "contratto.pdf")]), 1
        )

    def test_no_outgoing_server_is_a_sentence_not_a_traceback(self):
        """What the web client gets when nothing could send the mail: a UserError whose
        message is the sentence (shown in a dialog), not a server error ("Oops")."""
        self.shared.mail_server_id = False
        self.env["ir.mail_server"].search([]).unlink()
        self.authenticate("outbox_salesman", "outbox_salesman")
        composer_id = self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {
                "model": "mailbox.compose",
                "method": "create",
                "args": [self.composer_values()],
                "kwargs": {},
            },
        )
        response = self.url_open(
            "/web/dataset/call_button",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {
                        "model": "mailbox.compose",
                        "method": "action_send",
                        "args": [[composer_id]],
                        "kwargs": {},
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        error = response.json()["error"]["data"]
        self.assertEqual(error["name"], "odoo.exceptions.UserError")
        self.assertIn("Mailbox Sales has no outgoing mail server", error["message"])
        self.assert_nothing_sent()

    def test_a_mass_sending_is_never_prepared_in_another_users_name(self):
        """A mass sending is prepared by the cron with the rights of its "Sent By" user (and
        sent from that user's address when "Send As" says so). A sales user who writes the
        administrator there over RPC, or a sales manager who creates one in the
        administrator's name, is refused; nothing is prepared as the administrator."""
        admin = self.env.ref("base.user_admin")
        mail_new_test_user(
            self.env,
            login="outbox_manager",
            name="Marta Manager",
            email=f"marta@{OUR_DOMAIN}",
            groups="base.group_user,base.group_partner_manager,sales_team.group_sale_manager",
        )
        values = {
            "name": "Listino",
            "mailbox_id": self.shared.id,
            "res_model": "res.partner",
            "res_ids": [self.client.id],
            "record_count": 1,
            "sender_mode": "user",
        }

        def call(method, args):
            return self.make_jsonrpc_request(
                "/web/dataset/call_kw",
                {"model": "mailbox.send.batch", "method": method, "args": args, "kwargs": {}},
            )

        self.authenticate("outbox_salesman", "outbox_salesman")
        own_id = call("create", [values])
        with self.assertRaises(JsonRpcException) as refused:
            call("write", [[own_id], {"user_id": admin.id, "preparing": True}])
        self.assertIn("AccessError", str(refused.exception))
        self.authenticate("outbox_manager", "outbox_manager")
        other_id = call("create", [{**values, "user_id": admin.id, "preparing": True}])
        Batch = self.env["mailbox.send.batch"]
        self.assertEqual(Batch.browse(own_id).user_id, self.salesman)
        self.assertNotEqual(Batch.browse(other_id).user_id, admin)
        self.assertFalse(Batch.search([("user_id", "=", admin.id)]))

    def test_a_private_mail_of_another_mailbox_as_parent_is_refused(self):
        with self.assertRaises(JsonRpcException) as refused:
            self.send_over_rpc(self.composer_values(parent_id=self.private_mail.id))
        self.assertIn("AccessError", str(refused.exception))
        self.assert_nothing_sent()
        self.assertFalse(
            self.env["mailbox.message"].search(
                [("references", "ilike", "private.1"), ("id", "!=", self.private_mail.id)]
            )
        )
