"""The RPC surface of the services and wizards (issue 23, findings 1-4, 9-11, 13, 14): what a
portal user and an own-documents sales user can do with crafted JSON-RPC calls
(``/web/dataset/call_kw``), not only with the buttons of the screens."""

import socket
import threading
import time
import unittest
from unittest.mock import patch

from odoo.tests import HttpCase, JsonRpcException, tagged
from odoo.tools import SQL

from odoo.addons.mail.tests.common import mail_new_test_user

from .. import compat
from ..mailflow import threads
from ..services import outbox as outbox_service
from ..wizards.mailbox_connect import PARAM_ENABLED, PARAM_PORTS
from .common import CLIENT_DOMAIN, OUR_DOMAIN, use_savepoints_for_commits
from .smtp_sink import get_sink

SALES = "base.group_user,base.group_partner_manager,sales_team.group_sale_salesman"


class _Listener:
    """A TCP port that counts the connections made to it and closes each at once: a mailbox
    pointing here shows whether anything tried to log in with its secret."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@tagged("post_install", "-at_install")
class TestRpcServices(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.portal = mail_new_test_user(env, login="rpc_portal", groups="base.group_portal")
        cls.salesman = mail_new_test_user(
            env, login="rpc_salesman", email=f"sara@{OUR_DOMAIN}", groups=SALES
        )
        cls.colleague = mail_new_test_user(
            env, login="rpc_colleague", email=f"carlo@{OUR_DOMAIN}", groups=SALES
        )
        cls.listener = _Listener()
        cls.addClassCleanup(cls.listener.stop)
        server = env["ir.mail_server"].create(get_sink().mail_server_values())
        cls.mailbox = env["fetchmail.server"].create(
            {
                "name": "Sales",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": cls.listener.port,
                "connection_security": "none",
                "connect_timeout": 2,
                "user": "sales",
                "password": "mailbox-S3cret",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "email_address": f"sales@{OUR_DOMAIN}",
                "mail_server_id": server.id,
                "state": "done",
            }
        )
        cls.client = env["res.partner"].create(
            {"name": "Giulia Rossi", "email": f"giulia@{CLIENT_DOMAIN}", "user_id": cls.salesman.id}
        )
        cls.lead = env["crm.lead"].create(
            {
                "name": "Offerta Rossi",
                "partner_id": cls.client.id,
                "email_from": cls.client.email,
                "user_id": cls.salesman.id,
            }
        )
        cls.lead.message_subscribe(partner_ids=cls.colleague.partner_id.ids)

    def setUp(self):
        super().setUp()
        use_savepoints_for_commits(self)

    # -- helpers ------------------------------------------------------------------------------
    def call(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def assert_refused(self, model, method, *args, **kwargs):
        """The call fails as refused (an access error, or no such public method), never with
        some other error halfway through its work."""
        with self.assertRaises(JsonRpcException, msg=f"{model}.{method} was accepted") as caught:
            self.call(model, method, *args, **kwargs)
        error = str(caught.exception.args)
        missing = "AttributeError" in error and not hasattr(type(self.env[model]), method)
        self.assertTrue("AccessError" in error or missing, f"{model}.{method}: {error[:300]}")

    def make_mail(self, n=0, **values):
        return self.env["mailbox.message"].create(
            {
                "mailbox_id": self.mailbox.id,
                "dedup_key": f"<rpc.{n}@{CLIENT_DOMAIN}>",
                "message_id": f"<rpc.{n}@{CLIENT_DOMAIN}>",
                "subject": f"Richiesta {n}",
                "email_from": self.client.email,
                "direction": "incoming",
                **values,
            }
        )

    # -- finding 1: the outbox -----------------------------------------------------------------
    def test_outbox_cannot_be_driven_over_rpc(self):
        queued = self.make_mail(
            1, direction="outgoing", send_state="queued", outgoing_raw="U3ViamVjdDogeAoKeA=="
        )
        calls = [
            ("send", [], {}),
            ("send_in_background", ["postgres", [queued.id]], {}),
            ("prepare_batches", [], {}),
            ("recover_stale", [], {"minutes": 0}),
            ("append_pending", [], {}),
            ("requeue", [[queued.id]], {}),
            ("check_server", [self.mailbox.id], {}),
            ("failure_message", [self.mailbox.id, ["internal", False, "x"]], {}),
            ("queue", [self.mailbox.id, []], {}),
            ("send_after_commit", [[queued.id]], {}),
        ]
        for login in ("rpc_portal", "rpc_salesman"):
            self.authenticate(login, login)
            for method, args, kwargs in calls:
                with self.subTest(login=login, method=method):
                    self.assert_refused("mailbox.outbox", method, *args, **kwargs)
        queued.invalidate_recordset()
        self.assertEqual(queued.send_state, "queued")  # nothing sent it

    def test_sending_in_the_background_never_takes_a_database_name(self):
        Outbox = self.env["mailbox.outbox"]
        started = []
        send = Outbox._send_in_background
        with patch.object(outbox_service, "threading") as threading_mock:
            thread = threading_mock.Thread
            thread.return_value.start.side_effect = lambda: started.append(True)
            with self.assertRaises(TypeError):
                send("postgres", [1])  # no database name is taken from a caller
            send([1])
        self.assertEqual(len(started), 1)

    def test_preparing_mass_sendings_has_a_deadline_by_default(self):
        partners = self.env["res.partner"].create(
            [{"name": f"C{i}", "email": f"c{i}@{CLIENT_DOMAIN}"} for i in range(3)]
        )
        batch = self.env["mailbox.send.batch"].create(
            {
                "name": "Listino",
                "mailbox_id": self.mailbox.id,
                "res_model": "res.partner",
                "res_ids": partners.ids,
                "preparing": True,
            }
        )
        prepare = self.env["mailbox.outbox"]._prepare_batches
        clock = iter([0.0] + [1e9] * 100)  # the budget is spent after the first look
        with patch.object(outbox_service, "time") as time_mock:
            time_mock.monotonic.side_effect = lambda: next(clock)
            more = prepare(chunk=1)
        batch.invalidate_recordset()
        self.assertTrue(more)
        self.assertLess(batch.prepared_count, 3)

    # -- finding 2: bookkeeping of mass sendings -------------------------------------------------
    def test_crafted_mass_sending_bookkeeping_is_refused(self):
        self.authenticate("rpc_salesman", "rpc_salesman")
        batch_id = self.call(
            "mailbox.send.batch",
            "create",
            {
                "name": "x",
                "mailbox_id": self.mailbox.id,
                "res_model": "res.partner",
                "res_ids": [self.client.id],
                "preparing": True,
                "prepared_count": -1000,
                "skipped_count": -7,
                "skipped_note": "forged",
                "record_count": 10**9,
                "user_id": self.colleague.id,
            },
        )
        batch = self.env["mailbox.send.batch"].browse(batch_id)
        self.assertEqual(
            (batch.prepared_count, batch.skipped_count, batch.skipped_note, batch.record_count),
            (0, 0, False, 1),
        )
        self.assertEqual((batch.preparing, batch.user_id), (True, self.salesman))
        with self.assertRaises(JsonRpcException):
            self.call("mailbox.send.batch", "write", [batch_id], {"prepared_count": -1000})
        with self.assertRaises(JsonRpcException) as caught:  # the second review, finding 5
            self.call(
                "mailbox.send.batch",
                "create",
                {
                    "name": "y",
                    "mailbox_id": self.mailbox.id,
                    "res_model": "res.partner",
                    "res_ids": [self.client.id],
                    "sender_mode": "bogus",
                },
            )
        self.assertIn("ValidationError", str(caught.exception.args))

    def test_any_stored_bookkeeping_never_stalls_the_outbox(self):
        """Whatever a mass sending holds (a negative or huge count, a broken list), preparing
        it ends: it progresses or stops preparing, within one run."""
        Batch = self.env["mailbox.send.batch"].sudo()
        batches = Batch.create(
            [
                {
                    "name": f"b{count}",
                    "mailbox_id": self.mailbox.id,
                    "res_model": "res.partner",
                    "res_ids": [self.client.id],
                    "preparing": True,
                    "prepared_count": count,
                    "skipped_count": -3,
                    "user_id": self.salesman.id,
                }
                for count in (-1000, -1, 10**6)
            ]
        )
        broken = Batch.create(
            {
                "name": "broken",
                "mailbox_id": self.mailbox.id,
                "res_model": "res.partner",
                "res_ids": [self.client.id],
                "preparing": True,
                "user_id": self.salesman.id,
            }
        )
        no_model = Batch.create(
            {
                "name": "no model",
                "mailbox_id": self.mailbox.id,
                "res_model": "res.partner",
                "res_ids": [self.client.id],
                "preparing": True,
                "user_id": self.salesman.id,
            }
        )
        self.env.cr.execute(
            "UPDATE mailbox_send_batch SET res_ids = '{\"a\": 1}' WHERE id = %s", [broken.id]
        )
        self.env.cr.execute(
            "UPDATE mailbox_send_batch SET res_model = 'no.such.model' WHERE id = %s",
            [no_model.id],
        )
        broken |= no_model
        broken.invalidate_recordset()
        self.assertFalse(
            self.env["mailbox.outbox"]._prepare_batches(deadline=time.monotonic() + 20)
        )
        (batches | broken).invalidate_recordset()
        self.assertEqual((batches | broken).mapped("preparing"), [False] * 5)

    # -- finding 11: secrets are used only by who may ------------------------------------------
    def test_mailbox_buttons_check_rights_before_logging_in(self):
        time.sleep(0.3)  # a connection of an earlier test is counted by now
        before = self.listener.connections
        self.authenticate("rpc_salesman", "rpc_salesman")
        self.assertEqual(
            self.call("fetchmail.server", "read", [self.mailbox.id], ["name"])[0]["name"], "Sales"
        )
        for method in ("action_detect_folders", "button_confirm_login"):
            with self.subTest(method=method), self.assertRaises(JsonRpcException) as caught:
                self.call("fetchmail.server", method, [self.mailbox.id])
            self.assertIn("AccessError", str(caught.exception.args))
        time.sleep(0.3)
        self.assertEqual(self.listener.connections, before, "logged in with the mailbox's secret")

    def test_address_claims_are_not_callable(self):
        for login in ("rpc_portal", "rpc_salesman"):
            self.authenticate(login, login)
            self.assert_refused("mailbox.record.factory", "claim", f"busy@{CLIENT_DOMAIN}")
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL("SELECT id FROM mailbox_address_claim WHERE address = %s", f"busy@{CLIENT_DOMAIN}")
        )
        self.assertFalse(rows)

    def test_connect_wizard_password_never_read_back_nor_kept_after_test(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(PARAM_ENABLED, "1")
        params.set_param(PARAM_PORTS, str(self.listener.port))
        self.authenticate("rpc_salesman", "rpc_salesman")
        wizard_id = self.call(
            "mailbox.connect",
            "create",
            {
                "email": f"sara@{OUR_DOMAIN}",
                "provider": "other",
                "server": "127.0.0.1",
                "port": self.listener.port,
                "connection_security": "none",
                "password": "typed-S3cret",
            },
        )
        read = self.call("mailbox.connect", "read", [wizard_id], ["password"])
        self.assertNotEqual(read[0].get("password"), "typed-S3cret")
        self.make_jsonrpc_request(
            "/web/dataset/call_button",
            {
                "model": "mailbox.connect",
                "method": "action_test",
                "args": [[wizard_id]],
                "kwargs": {},
            },
        )
        self.env.flush_all()
        column = self.env.execute_query(
            SQL("SELECT password FROM mailbox_connect WHERE id = %s", wizard_id)
        )[0][0]
        self.assertFalse(column, "the typed password stays in the wizard's row")

    # -- finding 13: bounded work per request ---------------------------------------------------
    def test_timeline_limit_is_capped(self):
        mails = self.env["mailbox.message"].create(
            [
                {
                    "mailbox_id": self.mailbox.id,
                    "dedup_key": f"<tl.{n}@{CLIENT_DOMAIN}>",
                    "message_id": f"<tl.{n}@{CLIENT_DOMAIN}>",
                    "subject": f"T{n}",
                    "email_from": self.client.email,
                    "direction": "incoming",
                    "state": "linked",
                }
                for n in range(205)
            ]
        )
        self.env["mailbox.message.link"].create(
            [{"message_id": m.id, "partner_id": self.client.id} for m in mails]
        )
        self.authenticate("rpc_salesman", "rpc_salesman")
        for limit in (10**9, None, -1):
            with self.subTest(limit=limit):
                page = self.call(
                    "mailbox.timeline", "read_timeline", "res.partner", self.client.id, limit=limit
                )
                self.assertEqual(page["total"], 205)
                self.assertLessEqual(len(page["mails"]), 200)

    def test_relink_does_not_restart_its_job(self):
        self.make_mail(1)
        self.authenticate("admin", "admin")
        self.call("fetchmail.server", "action_relink", [self.mailbox.id])
        job = self.env["mailbox.sync.job"].search(
            [("mailbox_id", "=", self.mailbox.id), ("state", "=", "pending")]
        )
        self.assertEqual(len(job), 1)
        job.write({"last_message_id": 10**6, "done": 1})
        self.call("fetchmail.server", "action_relink", [self.mailbox.id])
        job.invalidate_recordset()
        self.assertEqual(
            self.env["mailbox.sync.job"].search_count(
                [("mailbox_id", "=", self.mailbox.id), ("state", "=", "pending")]
            ),
            1,
        )
        self.assertEqual(job.last_message_id, 10**6, "asking again restarted the job")

    def test_linking_many_mails_notifies_once_per_record(self):
        mails = (
            self.make_mail(1, date="2026-01-01 10:00:00")
            | self.make_mail(2, date="2026-01-03 10:00:00")
            | self.make_mail(3, date="2026-01-02 10:00:00")
        )
        self.authenticate("rpc_salesman", "rpc_salesman")
        self.call("mailbox.message", "action_link_record", mails.ids, "crm.lead", self.lead.id)
        entries = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", self.lead.id),
                ("mcl_message_id", "in", mails.ids),
            ]
        )
        self.assertEqual(len(entries), 3)  # each mail shows on the card
        notified = entries.filtered("notification_ids")
        self.assertEqual(len(notified), 1, "one notification per record, not one per mail")
        self.assertEqual(notified.mcl_message_id, mails[1])  # the newest

    # -- finding 3: the open-lead offer -------------------------------------------------------
    def test_lead_offer_lines_show_no_lead_the_user_may_not_read(self):
        theirs = self.env["crm.lead"].create(
            {"name": "Colleague's secret deal", "user_id": self.colleague.id}
        )
        mail = self.make_mail(31, state="linked")
        self.env["mailbox.message.link"].create({"message_id": mail.id, "lead_id": self.lead.id})
        self.authenticate("rpc_salesman", "rpc_salesman")
        self.assertFalse(theirs.with_user(self.salesman).has_access("read"))
        with self.assertRaises(JsonRpcException) as caught:  # an offer naming their lead
            self.call(
                "mailbox.lead.choice",
                "create",
                {
                    "message_id": mail.id,
                    "kind": "lead",
                    "line_ids": [(0, 0, {"lead_id": theirs.id})],
                },
            )
        self.assertIn("AccessError", str(caught.exception.args))
        wizard_id = self.call(  # an offer of the user's own lead is fine...
            "mailbox.lead.choice",
            "create",
            {
                "message_id": mail.id,
                "kind": "lead",
                "line_ids": [(0, 0, {"lead_id": self.lead.id})],
            },
        )
        (line,) = self.call("mailbox.lead.choice", "read", [wizard_id], ["line_ids"])[0]["line_ids"]
        self.assert_refused("mailbox.lead.choice.line", "write", [line], {"lead_id": theirs.id})
        shown = self.call(  # ...and it still shows the user's own lead
            "mailbox.lead.choice.line", "read", [line], ["lead_id", "user_id", "partner_id"]
        )
        self.assertEqual(shown[0]["lead_id"][0], self.lead.id)
        self.assertNotIn("secret", str(shown))

    # -- finding 4: strict visibility on every read path -----------------------------------------
    def test_strict_visibility_holds_over_rpc(self):
        self.mailbox.strict_visibility = True
        theirs = self.env["crm.lead"].create(
            {"name": "Trattativa del collega", "user_id": self.colleague.id}
        )
        mail = self.make_mail(41, state="linked", body_html="<p>Prezzo riservato 4242</p>")
        self.env["mailbox.message.link"].create(
            [
                {"message_id": mail.id, "partner_id": self.client.id},
                {"message_id": mail.id, "lead_id": theirs.id},
            ]
        )
        plain = self.make_mail(42, state="linked", body_html="<p>Richiesta normale</p>")
        self.env["mailbox.message.link"].create(
            {"message_id": plain.id, "partner_id": self.client.id}
        )
        self.authenticate("rpc_salesman", "rpc_salesman")
        found = self.call(
            "mailbox.message", "search_read", [("id", "in", (mail | plain).ids)], ["body_html"]
        )
        self.assertEqual([r["id"] for r in found], plain.ids)
        self.assert_refused("mailbox.message", "read", mail.ids, ["body_html"])
        page = self.call("mailbox.timeline", "read_timeline", "res.partner", self.client.id)
        self.assertNotIn("4242", str(page))
        self.assertIn(plain.id, [m["id"] for m in page["mails"]])
        links = self.call(
            "mailbox.message.link", "search_read", [("message_id", "=", mail.id)], ["subject"]
        )
        self.assertFalse(links, "the links of a mail the user may not read show its subject")

    # -- finding 9: links and files follow the mailbox ------------------------------------------
    def test_links_of_a_colleagues_personal_mailbox_stay_theirs(self):
        personal = self.mailbox.copy(
            {"name": "Carlo's mailbox", "mailbox_access": "personal", "owner_id": self.colleague.id}
        )
        mail = self.make_mail(51, mailbox_id=personal.id, state="linked", subject="Stipendio 5151")
        self.env["mailbox.message.link"].create(
            {"message_id": mail.id, "partner_id": self.client.id}
        )
        self.authenticate("rpc_salesman", "rpc_salesman")
        for model, field in (
            ("mailbox.message.link", "message_id"),
            ("mailbox.message.file", "message_id"),
        ):
            with self.subTest(model=model):
                found = self.call(model, "search_read", [(field, "=", mail.id)], ["subject"])
                self.assertNotIn("5151", str(found))
                self.assertFalse(found)

    # -- the review of the final diff: chatter entries and notifications ------------------------
    def test_chatter_entries_follow_the_mailbox_and_never_reach_portal_users(self):
        personal = self.mailbox.copy(
            {"name": "Carlo's own", "mailbox_access": "personal", "owner_id": self.colleague.id}
        )
        theirs = self.make_mail(61, mailbox_id=personal.id, subject="Riservato 6161")
        portal_partner = self.portal.partner_id
        shared = self.make_mail(62, subject="Condiviso 6262", email_from=portal_partner.email)
        links = self.env["mailbox.message.link"]
        links._add_links(theirs, self.client)
        links._add_links(shared, portal_partner)
        entries = self.env["mail.message"].search([("mcl_message_id", "in", (theirs | shared).ids)])
        self.assertEqual(len(entries), 2, "both are on their cards")
        self.authenticate("rpc_salesman", "rpc_salesman")
        seen = self.call(
            "mail.message", "search_read", [("mcl_message_id", "!=", False)], ["subject", "body"]
        )
        self.assertNotIn("6161", str(seen), "a colleague's personal mailbox, through the chatter")
        self.assertIn("6262", str(seen))
        self.authenticate("rpc_portal", "rpc_portal")
        seen = self.call("mail.message", "search_read", [], ["subject", "body"])
        self.assertNotIn("6262", str(seen), "mail of the CRM on the portal user's own partner")

    def test_notifications_of_chatter_entries_are_read_as_the_entry_is(self):
        """Odoo lets every user read every mail.notification: its recipient, its author
        through the entry's name, its failure. For the entries of mailbox mail, the entry's
        rules decide (the second review, finding 1)."""
        personal = self.mailbox.copy(
            {"name": "Carlo's desk", "mailbox_access": "personal", "owner_id": self.colleague.id}
        )
        theirs = self.make_mail(63, mailbox_id=personal.id, subject="Riservato 6363")
        shared = self.make_mail(64, subject="Condiviso 6464")
        links = self.env["mailbox.message.link"]
        links._add_links(theirs | shared, self.client)
        entries = self.env["mail.message"].search([("mcl_message_id", "in", (theirs | shared).ids)])
        self.assertEqual(len(entries), 2)
        for entry in entries:
            self.env["mail.notification"].create(
                {
                    "mail_message_id": entry.id,
                    "res_partner_id": self.colleague.partner_id.id,
                    "notification_type": "inbox",
                }
            )
        theirs_entry = entries.filtered(lambda e: e.mcl_message_id == theirs)
        shared_entry = entries - theirs_entry
        self.authenticate("rpc_salesman", "rpc_salesman")
        seen = self.call(
            "mail.notification",
            "search_read",
            [("mail_message_id", "in", entries.ids)],
            ["mail_message_id", "res_partner_id"],
        )
        self.assertEqual({n["mail_message_id"][0] for n in seen}, set(shared_entry.ids))
        self.authenticate("rpc_portal", "rpc_portal")
        seen = self.call(
            "mail.notification",
            "search_read",
            [("mail_message_id", "in", entries.ids)],
            ["mail_message_id", "res_partner_id"],
        )
        self.assertFalse(seen, "no notification of mailbox mail for a portal user")

    def test_an_employee_without_crm_rights_reads_the_addons_fields_of_a_contact(self):
        """(Odoo's own crm makes a read() of every field fail for them: opportunity_ids.)"""
        mail_new_test_user(self.env, login="rpc_employee", groups="base.group_user")
        self.authenticate("rpc_employee", "rpc_employee")
        ours = ["name", "extra_email_ids", "mcl_message_count", "mcl_unsent_count"]
        (values,) = self.call("res.partner", "read", [self.client.id], ours)
        self.assertEqual(values["name"], "Giulia Rossi")
        self.assertNotIn("mcl_link_ids", self.call("res.partner", "fields_get", ["mcl_link_ids"]))

    def test_a_colleagues_personal_template_stays_theirs_for_template_editors(self):
        """Odoo's template editors may write every template: not a colleague's personal CRM
        template (the second review, finding 2), nor give one to a colleague (finding 4)."""
        template = self.env["mail.template"].create(
            {
                "name": "Carlo's offer",
                "mcl_crm": True,
                "user_id": self.colleague.id,
                "mcl_model": "res.partner",
                "body_html": "<p>Sconto 8181</p>",
            }
        )
        editor = self.env.ref("mail.group_mail_template_editor")
        self.salesman[compat.USER_GROUPS] = [(4, editor.id)]
        self.authenticate("rpc_salesman", "rpc_salesman")
        self.assert_refused("mail.template", "write", [template.id], {"mcl_sharing": "all"})
        self.assert_refused("mail.template", "unlink", [template.id])
        self.assertEqual(template.mcl_sharing, "personal")
        self.assert_refused(
            "mail.template",
            "create",
            {"name": "Planted", "mcl_crm": True, "user_id": self.colleague.id},
        )
        mine = self.call(
            "mail.template", "create", {"name": "Mine", "mcl_crm": True, "mcl_model": "crm.lead"}
        )
        self.assertEqual(self.env["mail.template"].browse(mine).user_id, self.salesman)
        # the third review: made a CRM template afterwards, by a context default, by a copy
        plain = self.call(
            "mail.template", "create", {"name": "Plain", "user_id": self.colleague.id}
        )
        self.assert_refused("mail.template", "write", [plain], {"mcl_crm": True})
        self.assert_refused(
            "mail.template",
            "create",
            {"name": "By default", "user_id": self.colleague.id},
            context={"default_mcl_crm": True},
        )
        shared = self.env["mail.template"].create(
            {
                "name": "Carlo's shared",
                "mcl_crm": True,
                "user_id": self.colleague.id,
                "mcl_sharing": "all",
                "mcl_model": "res.partner",
            }
        )
        self.assert_refused("mail.template", "write", [shared.id], {"user_id": self.salesman.id})
        self.assert_refused("mail.template", "write", [shared.id], {"user_id": False})
        # the fourth review: first made a plain template, then taken
        self.assert_refused("mail.template", "write", [shared.id], {"mcl_crm": False})
        self.assertTrue(shared.mcl_crm)
        by_default = self.call(
            "mail.template", "create", {"name": "Default CRM"}, context={"default_mcl_crm": True}
        )
        self.assertEqual(self.env["mail.template"].browse(by_default).user_id, self.salesman)
        made = self.call("mail.template", "create", {"name": "Later CRM"})
        self.call("mail.template", "write", [made], {"mcl_crm": True})
        self.assertEqual(self.env["mail.template"].browse(made).user_id, self.salesman)
        copied = self.call("mail.template", "copy", [shared.id])
        self.assertEqual(self.env["mail.template"].browse(copied).user_id, self.salesman)
        self.assertEqual(shared.user_id, self.colleague)

    def test_mail_some_may_not_read_notifies_only_who_may(self):
        self.client.message_subscribe(partner_ids=self.colleague.partner_id.ids)
        self.env["res.users"].browse(self.colleague.id).notification_type = "inbox"
        private = self.make_mail(71, private=True, subject="Privato 7171")
        self.env["mailbox.message.link"]._add_links(private, self.client)
        entry = self.env["mail.message"].search([("mcl_message_id", "=", private.id)])
        self.assertTrue(entry)
        self.assertNotIn(
            self.colleague.partner_id, entry.notification_ids.res_partner_id, "told a follower"
        )
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.client.id)]
        )
        self.assertNotIn("7171", str(activities.mapped("summary")))
        shared = self.make_mail(72, subject="Normale 7272")
        self.env["mailbox.message.link"]._add_links(shared, self.client)
        entry = self.env["mail.message"].search([("mcl_message_id", "=", shared.id)])
        self.assertIn(self.colleague.partner_id, entry.notification_ids.res_partner_id)

    # -- finding 10: a contact's other addresses -------------------------------------------------
    def test_other_addresses_follow_the_rights_on_their_contact(self):
        other_company = self.env["res.company"].create({"name": "Filiale Srl"})
        foreign = self.env["res.partner"].create(
            {"name": "Cliente della filiale", "company_id": other_company.id}
        )
        extra = self.env["res.partner.email"].create(
            {"partner_id": foreign.id, "email": f"filiale@{CLIENT_DOMAIN}"}
        )
        self.assertFalse(foreign.with_user(self.salesman).has_access("write"))
        self.authenticate("rpc_salesman", "rpc_salesman")
        # mail from a correspondent redirected onto a contact the salesman may not edit
        self.assert_refused(
            "res.partner.email", "create", {"partner_id": foreign.id, "email": "x@example.org"}
        )
        self.assert_refused("res.partner.email", "write", [extra.id], {"email": "y@example.org"})
        self.assert_refused("res.partner.email", "unlink", [extra.id])
        own = self.call(  # on a contact of theirs, as before
            "res.partner.email", "create", {"partner_id": self.client.id, "email": "z@example.org"}
        )
        self.assert_refused("res.partner.email", "write", [own], {"partner_id": foreign.id})
        self.call("res.partner.email", "unlink", [own])
        self.assertEqual(extra.exists().email, f"filiale@{CLIENT_DOMAIN}")

    # -- finding 14: Message-IDs ---------------------------------------------------------------
    def test_outgoing_message_ids_show_no_record_id(self):
        self.authenticate("rpc_salesman", "rpc_salesman")
        composer_id = self.call(
            "mailbox.compose",
            "create",
            {
                "res_model": "crm.lead",
                "res_id": self.lead.id,
                "mailbox_id": self.mailbox.id,
                "email_to": self.client.email,
                "subject": "Offerta",
                "body": "<p>Ecco.</p>",
            },
        )
        self.make_jsonrpc_request(
            "/web/dataset/call_button",
            {
                "model": "mailbox.compose",
                "method": "action_send",
                "args": [[composer_id]],
                "kwargs": {},
            },
        )
        sent = self.env["mailbox.message"].search(
            [("mailbox_id", "=", self.mailbox.id), ("direction", "=", "outgoing")]
        )
        self.assertEqual(len(sent), 1)
        local = sent.message_id.split("@")[0]
        self.assertNotRegex(local, r"mcl\.[lp]\d")  # was <mcl.l<lead id>.…>
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        self.assertEqual(threads.read_token(sent.message_id, secret), ("crm.lead", self.lead.id))


class TestOpaqueTokens(unittest.TestCase):
    SECRET = "s3cret"

    def test_the_record_cannot_be_read_from_the_message_id(self):
        first = threads.make_message_id("crm.lead", 123456789, self.SECRET, "h", "0" * 12)
        self.assertNotIn("123456789", first)
        self.assertNotIn("l123456789", first)
        self.assertEqual(threads.read_token(first, self.SECRET), ("crm.lead", 123456789))
        self.assertIsNone(threads.read_token(first, "another secret"))

    def test_replies_to_mail_sent_before_keep_their_thread(self):
        signature = threads._signature(self.SECRET, "l42.3f9a1c2e")
        legacy = f"<mcl.l42.3f9a1c2e.{signature}@h>"
        self.assertEqual(threads.read_token(legacy, self.SECRET), ("crm.lead", 42))
