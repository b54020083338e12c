"""The RPC surface, audited (issue 23, "What to build" item 5).

Odoo serves every method whose name does not start with ``_`` (and is not ``init``) to any
logged-in user at ``/web/dataset/call_kw/<model>/<method>``, on AbstractModels and wizards
too, and ``create``/``write`` accept every field a view merely shows read-only. This test
finds that surface in the registry instead of following the screens, then calls it over real
JSON-RPC (the served Odoo of ``HttpCase``) as three users who must not get what they ask:

- a portal user;
- a salesman with "own documents only", on a colleague's records (the colleague's lead, the
  colleague's personal mailbox and its private mail, the colleague's mass sending...);
- an internal user without any sales right.

What it enumerates: every model the addon defines or extends directly (a class of
``odoo.addons.mail_crm_link`` whose own ``_name``/``_inherit`` names the model), and every
public method that a class of the addon defines in that model's MRO (its own methods and
those of its mixins). Overrides of the ORM's own methods (``create``, ``write``,
``default_get``...) are checked through the fields (below), not as methods. Methods on
records of an AbstractModel are skipped: there are no records to call them on.

Each call uses hostile arguments chosen by parameter name: the colleague's ids, another
database name, negative counters, huge limits, CR/LF and NUL in strings. A call fails the
audit when, during it:

- the addon commits: ``commit()`` of any cursor (the test cursor of the request, a cursor of
  ``registry.cursor()``, a real connection) is spied, and a commit whose callers include a
  frame of the addon's code is one (the request's own final commit is the framework's and has
  no such frame);
- a thread is started from the addon's code (it is recorded and *not* started: a thread
  given another database name would open it), or mail is handed to ``ir.mail_server``
  (spied before Odoo's test-mode skip), or a TCP connection reaches the trap listener that
  every mailbox and mail server of the victim points at (a login with a stored secret);
- a row appears in one of the addon's tables (compared by max id before and after);
- the answer (result or error) holds one of the markers planted in the colleague's data
  (``MCLSECRET``): data the caller may not read;
- a method not in ``ALLOW_LIST`` is not refused with ``AccessError``: it returned a result,
  or failed with another error (it ran with the caller's arguments, unguarded);
- a method of ``ALLOW_LIST`` kind ``record`` returned a result for records the caller may
  not read (``has_access('read')`` decided beforehand).

The fields: for every model, ``create`` (and then ``write``) with every read-only
bookkeeping field the addon defines (counters, states, claims, tokens, ``preparing``,
``prepared_count``...) forged, and every many-to-one of the addon pointed at the colleague's
records; a forged value found stored, or a created record whose ``read`` shows a marker,
fails the audit.

All violations are collected and reported together (one failure listing them all), so one
run tells what is still open.
"""

import inspect
import json
import logging
import os
import socket
import sys
import threading
from collections import defaultdict

from odoo import Command, release
from odoo.tests import HttpCase, tagged

from odoo.addons.mail.tests.common import mail_new_test_user

_logger = logging.getLogger(__name__)

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ADDON_PACKAGE = "odoo.addons.mail_crm_link"
MARKER = "MCLSECRET"
OUR_DOMAIN = "mycompany.example"
CLIENT_DOMAIN = "client.example"
OTHER_DB = "mcl_audit_not_this_database"
EVIL = "x\r\nBcc: evil@attacker.example\r\n\x00"
HUGE = 10**9

# Violations the audit finds on main that are not mended yet, each with what is left to do
# (issue 23 stays open while this is not empty). The audit fails on any violation missing
# here and on an entry that no longer happens: the list can only shrink.
KNOWN_OPEN = {}

# Each public method meant to be callable over RPC, with its kind and why.
# - "record": a button on records; allowed to run on records the caller may read, refused on
#   the others (the colleague's, which is what the audit passes).
# - "model": callable by anyone (it decides on the caller's own data); its answer is still
#   scanned for markers and its side effects recorded.
# A public method missing here must be refused (AccessError) for all three users.
ALLOW_LIST = {
    # the card buttons (smart buttons) of a lead and a contact
    **{
        (model, method): ("record", "smart button of the card: opens a list of the card's mail")
        for model in ("crm.lead", "res.partner")
        for method in ("action_mcl_messages", "action_mcl_unsent_messages", "action_mcl_files")
    },
    ("crm.lead", "action_mcl_compose"): ("record", "'Send mail' button of the card"),
    **{
        (model, "action_mcl_why_not"): ("record", "'Why not?' button of the card")
        for model in ("crm.lead", "res.partner")
    },
    ("mailbox.why.not", "action_refresh"): ("record", "list of 'Why not?' made again"),
    ("mailbox.why.not.line", "action_link_here"): ("record", "Link Here of a 'Why not?' line"),
    ("mailbox.why.not.line", "action_open_mail"): ("record", "Open of a 'Why not?' line"),
    ("res.partner", "action_mcl_compose"): ("record", "'Send mail' button of the card"),
    # the mailbox form (administrators; owners for their personal mailbox)
    ("fetchmail.server", "action_apply_private"): ("record", "button of the mailbox form"),
    ("fetchmail.server", "action_create_forward_alias"): ("record", "button of the mailbox form"),
    ("fetchmail.server", "action_detect_folders"): ("record", "button of the mailbox form"),
    ("fetchmail.server", "action_reconnect"): ("record", "Reconnect button (OAuth consent)"),
    ("fetchmail.server", "action_relink"): ("record", "button of the mailbox form"),
    ("fetchmail.server", "action_sync_now"): ("record", "Sync now button of the mailbox form"),
    ("fetchmail.server", "button_confirm_login"): ("record", "Odoo's Test & Confirm button"),
    ("fetchmail.server", "fetch_mail"): ("record", "Odoo's Fetch Now button"),
    ("fetchmail.server", "action_mcl_sync_mine"): ("record", "'My mailbox': sync my mailbox"),
    ("fetchmail.server", "action_mcl_disconnect"): ("record", "'My mailbox': disconnect it"),
    ("fetchmail.server", "action_mcl_reconnect"): ("record", "'My mailbox': reconnect it"),
    # a stored mail's buttons (its form, the chatter entry)
    **{
        ("mailbox.message", method): ("record", "button of a stored mail (form or chatter)")
        for method in (
            "action_create_company",
            "action_create_contact",
            "action_create_lead",
            "action_create_opportunity",
            "action_link_record",
            "action_mark_processed",
            "action_private_correspondent",
            "action_relink",
            "action_remove_from_record",
            "action_reply",
            "action_retry",
            "action_retry_send",
            "action_toggle_private",
        )
    },
    # the triage queue's buttons (issue 25): on mail the caller may read; ignoring also needs
    # the mailbox's personal owner, a sales manager or an administrator
    **{
        ("mailbox.message", method): ("record", "button of the triage queue (list or form)")
        for method in (
            "action_triage_link",
            "action_triage_ignore_sender",
            "action_triage_ignore_domain",
            "action_triage_dismiss",
        )
    },
    ("fetchmail.server", "action_mcl_triage"): (
        "record",
        "'To Triage' smart button of the mailbox form and of My Mailbox",
    ),
    ("mailbox.link.suggestion", "action_link"): ("record", "Link button of a suggestion"),
    ("mailbox.message.file", "action_preview"): ("record", "button of the Files list"),
    ("mailbox.message.file", "action_download"): ("record", "button of the Files list"),
    ("mailbox.message.file", "action_open_mail"): ("record", "button of the Files list"),
    ("mailbox.message.link", "action_remove"): ("record", "'Remove from this card' button"),
    ("mailbox.send.batch", "action_view_mails"): ("record", "button of a mass sending"),
    ("mailbox.send.batch", "action_retry_failed"): ("record", "button of a mass sending"),
    # wizards: buttons on the caller's own wizard records
    ("mailbox.compose", "action_send"): ("record", "Send button of the composer"),
    ("mailbox.mass.compose", "action_send"): ("record", "Send button of the mass composer"),
    ("mailbox.connect", "action_test"): ("record", "Test button of 'Connect my mailbox'"),
    ("mailbox.connect", "action_connect"): ("record", "Connect button of 'Connect my mailbox'"),
    ("mailbox.connect", "action_connect_oauth"): ("record", "OAuth button of the same wizard"),
    ("mailbox.connect", "action_my_mailbox"): (
        "model",
        "menu 'My mailbox': opens the caller's own mailbox or the wizard",
    ),
    ("mailbox.lead.choice", "action_create_anyway"): ("record", "button of the deal choice"),
    ("mailbox.lead.choice.line", "action_link"): ("record", "button of a deal choice line"),
    ("mailbox.link.wizard", "action_link"): ("record", "Link button of the link wizard"),
    ("mail.resend.message", "resend_mail_action"): ("record", "Odoo's resend wizard button"),
    ("mail.resend.message", "cancel_mail_action"): ("record", "Odoo's resend wizard button"),
    ("mail.resend.partner", "action_resend"): ("record", "Odoo's resend wizard button"),
    ("mail.notification", "format_failure_reason"): (
        "record",
        "Odoo's public method, called by the web client's failure popover",
    ),
    ("res.config.settings", "action_mcl_encrypt_secrets"): (
        "record",
        "button of the CRM settings (settings records are administrators' only)",
    ),
    # the chatter widget reads the card's mail through this
    ("mailbox.timeline", "read_timeline"): (
        "model",
        "the chatter widget of a card: must show only mail the caller may read, bounded",
    ),
    # Odoo's mail gateway (mail/models/mail_thread.py) is public in Odoo itself
    **{
        (model, "message_process"): (
            "model",
            (
                "Odoo's mail gateway entry point, public in Odoo; the override must not store "
                "forwarded mail in a mailbox the caller may not use"
            ),
        )
        # Odoo 19's ir.cron is a mail thread too (and this addon extends ir.cron)
        for model in ("mail.thread", "crm.lead", "res.partner")
        + (("ir.cron",) if release.version_info[0] >= 19 else ())
    },
}

# The ORM's own methods overridden by the addon: checked through the fields, not as methods.
ORM_METHODS = {
    "create",
    "write",
    "unlink",
    "default_get",
    "copy",
    "copy_data",
    "read",
    "name_create",
}


def _addon_frame(depth=2):
    """``path:line function`` of the innermost caller that is the addon's own code (not its
    tests), or None."""
    frame = sys._getframe(depth)  # pylint: disable=protected-access
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(ADDON_DIR + os.sep) and not filename.startswith(TESTS_DIR):
            return f"{os.path.relpath(filename, ADDON_DIR)}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return None


class _Trap:
    """A TCP listener on loopback that every victim mailbox and mail server points at: any
    connection to it is a login attempt (IMAP, POP3, SMTP) made during a hostile call."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True, name="mcl-rpc-trap")
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


def _params(function):
    """(name, has a default) of the parameters after ``self``."""
    function = inspect.unwrap(function)
    result = []
    for param in list(inspect.signature(function).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        result.append((param.name, param.default is not param.empty))
    return result


@tagged("post_install", "-at_install")
class TestRpcSurfaceAudit(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.trap = _Trap()
        cls.addClassCleanup(cls.trap.close)
        users = {
            "portal": ("mcl_audit_portal", "base.group_portal"),
            "salesman": ("mcl_audit_salesman", "sales_team.group_sale_salesman"),
            "no_crm": ("mcl_audit_no_crm", "base.group_user"),
        }
        cls.users = {}
        for key, (login, groups) in users.items():
            cls.users[key] = mail_new_test_user(
                env,
                login=login,
                password=login + "-Pw-1234",
                name=login,
                email=f"{login}@{OUR_DOMAIN}",
                groups=groups,
            )
        cls.colleague = mail_new_test_user(
            env,
            login="mcl_audit_colleague",
            name="Colleague",
            email=f"colleague@{OUR_DOMAIN}",
            groups="sales_team.group_sale_salesman",
        )
        cls._make_victims()
        cls.addon_models = cls._addon_models()
        cls.tables = [
            env[name]._table
            for name in cls.addon_models
            if not env[name]._abstract and not env[name]._transient and env[name]._auto
        ]

    # -- the colleague's data: what the three users must neither reach nor read ---------------
    @classmethod
    def _make_victims(cls):
        env = cls.env
        trap = f"127.0.0.1:{cls.trap.port}"
        mail_server = env["ir.mail_server"].create(
            {"name": "Trap SMTP", "smtp_host": "127.0.0.1", "smtp_port": cls.trap.port}
        )
        partner = env["res.partner"].create(
            {"name": "Readable Client", "email": f"secret.client@{CLIENT_DOMAIN}"}
        )
        # a contact the callers may not edit (another company's): sales users may edit every
        # contact of their company, so only such a one shows whether an address follows it
        foreign_partner = env["res.partner"].create(
            {
                "name": f"{MARKER}-foreign",
                "company_id": env["res.company"].create({"name": "Other Company"}).id,
            }
        )
        lead = env["crm.lead"].create(
            {
                "name": f"{MARKER}-lead",
                "type": "opportunity",
                "partner_id": partner.id,
                "user_id": cls.colleague.id,
                "expected_revenue": 123456,
            }
        )
        mailbox = env["fetchmail.server"].create(
            {
                "name": f"{MARKER}-mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": cls.trap.port,
                "connection_security": "none",
                "user": f"colleague@{OUR_DOMAIN}",
                "password": f"{MARKER}-password",
                "connect_timeout": 2,
                "state": "done",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "mailbox_access": "personal",
                "owner_id": cls.colleague.id,
                "mail_server_id": mail_server.id,
                "email_address": f"colleague@{OUR_DOMAIN}",
                "forward_alias": "mcl-audit-victim",
            }
        )
        folder = env["mailbox.folder"].create(
            {"mailbox_id": mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"}
        )
        message = env["mailbox.message"].create(
            {
                "mailbox_id": mailbox.id,
                "folder_id": folder.id,
                "dedup_key": "mcl-audit-1",
                "message_id": f"<audit.1@{CLIENT_DOMAIN}>",
                "subject": f"{MARKER}-subject",
                "body_html": f"<p>{MARKER}-body</p>",
                "body_text": f"{MARKER}-body",
                "email_from": f"secret.client@{CLIENT_DOMAIN}",
                "email_to": f"colleague@{OUR_DOMAIN}",
                "direction": "incoming",
                "private": True,
                "date": "2026-01-01 10:00:00",
            }
        )
        queued = env["mailbox.message"].create(
            {
                "mailbox_id": mailbox.id,
                "dedup_key": "mcl-audit-2",
                "message_id": f"<audit.2@{OUR_DOMAIN}>",
                "subject": f"{MARKER}-outgoing",
                "body_html": f"<p>{MARKER}-outgoing</p>",
                "email_from": f"colleague@{OUR_DOMAIN}",
                "email_to": f"secret.client@{CLIENT_DOMAIN}",
                "direction": "outgoing",
                "send_state": "queued",
                "send_user_id": cls.colleague.id,
                "date": "2026-01-01 11:00:00",
            }
        )
        link = env["mailbox.message.link"].create({"message_id": message.id, "lead_id": lead.id})
        env["ir.attachment"].create(
            {
                "name": f"{MARKER}-file.txt",
                "raw": f"{MARKER}-file".encode(),
                "res_model": "mailbox.message",
                "res_id": message.id,
            }
        )
        message.attachment_ids = env["ir.attachment"].search(
            [("res_model", "=", "mailbox.message"), ("res_id", "=", message.id)]
        )
        template = env["mail.template"].create(
            {
                "name": f"{MARKER}-template",
                "model_id": env["ir.model"]._get_id("crm.lead"),
                "subject": "Hello",
                "body_html": "<p>Hello</p>",
            }
        )
        batch = (
            env["mailbox.send.batch"]
            .with_user(cls.colleague)
            .sudo()
            .create(
                {
                    "name": f"{MARKER}-batch",
                    "user_id": cls.colleague.id,
                    "mailbox_id": mailbox.id,
                    "template_id": template.id,
                    "res_model": "crm.lead",
                    "res_ids": [lead.id],
                    "record_count": 1,
                }
            )
        )
        job = env["mailbox.sync.job"].create({"mailbox_id": mailbox.id, "kind": "relink"})
        mail_message = lead.message_post(body=f"{MARKER}-chatter", message_type="comment")
        notification = env["mail.notification"].create(
            {
                "mail_message_id": mail_message.id,
                "res_partner_id": partner.id,
                "notification_type": "email",
                "notification_status": "exception",
                "failure_type": "mail_smtp",
            }
        )
        cls.victim = {
            "partner": partner,
            "foreign_partner": foreign_partner,
            "lead": lead,
            "mailbox": mailbox,
            "folder": folder,
            "message": message,
            "queued": queued,
            "link": link,
            "batch": batch,
            "job": job,
            "template": template,
            "mail_server": mail_server,
            "notification": notification,
            "mail_message": mail_message,
            "trap": trap,
        }
        # records of each model the methods are called on (the colleague's / an admin's)
        files = env["mailbox.message.file"].search([("message_id", "=", message.id)])
        choice = env["mailbox.lead.choice"].create(
            {
                "message_id": message.id,
                "kind": "lead",
                "line_ids": [Command.create({"lead_id": lead.id})],
            }
        )
        compose = env["mailbox.compose"].create(
            {
                "res_model": "crm.lead",
                "res_id": lead.id,
                "mailbox_id": mailbox.id,
                "email_to": f"secret.client@{CLIENT_DOMAIN}",
                "subject": f"{MARKER}-compose",
                "body": f"<p>{MARKER}-compose</p>",
            }
        )
        mass = env["mailbox.mass.compose"].create(
            {
                "res_model": "crm.lead",
                "res_ids": [lead.id],
                "template_id": template.id,
                "mailbox_id": mailbox.id,
            }
        )
        connect = env["mailbox.connect"].create(
            {"email": f"colleague@{OUR_DOMAIN}", "password": f"{MARKER}-typed"}
        )
        link_wizard = env["mailbox.link.wizard"].create(
            {
                "message_ids": [Command.set(message.ids)],
                "lead_id": lead.id,
                "suggestion_ids": [Command.create({"lead_id": lead.id, "reason": MARKER})],
            }
        )
        # the colleague's own "Why not?" of their lead, with a line naming their mail
        why_not = env["mailbox.why.not"].create({"res_model": "crm.lead", "res_id": lead.id})
        why_not_line = env["mailbox.why.not.line"].create(
            {"wizard_id": why_not.id, "message_id": message.id}
        )
        assert why_not_line, "the colleague's private mail is listed (reason: private)"
        # Odoo 19 has no "Sending Failures" dialog (compat.py): audited where it exists
        resend = (
            env["mail.resend.message"]
            .with_context(mail_message_to_resend=mail_message.id)
            .create({})
            if "mail.resend.message" in env.registry
            else None
        )
        cls.records = {
            "crm.lead": lead.ids,
            "res.partner": partner.ids,
            "fetchmail.server": mailbox.ids,
            "mailbox.message": (message | queued).ids,
            "mailbox.message.file": files.ids,
            "mailbox.message.link": link.ids,
            "mailbox.send.batch": batch.ids,
            "mailbox.sync.job": job.ids,
            "mailbox.lead.choice": choice.ids,
            "mailbox.lead.choice.line": choice.line_ids.ids,
            "mailbox.compose": compose.ids,
            "mailbox.mass.compose": mass.ids,
            "mailbox.connect": connect.ids,
            "mailbox.link.wizard": link_wizard.ids,
            "mailbox.why.not": why_not.ids,
            "mailbox.why.not.line": why_not_line.ids,
            "mailbox.link.suggestion": link_wizard.suggestion_ids.ids,
            **(
                {
                    "mail.resend.message": resend.ids,
                    "mail.resend.partner": resend.partner_ids.ids,
                }
                if resend is not None
                else {}
            ),
            "mail.notification": notification.ids,
            "res.config.settings": env["res.config.settings"].create({}).ids,
        }

    # -- the surface, from the registry -------------------------------------------------------
    @classmethod
    def _addon_models(cls):
        """Models the addon defines or extends directly."""
        names = []
        for name in sorted(cls.env.registry):
            for klass in type(cls.env[name]).__mro__:
                if not klass.__module__.startswith(ADDON_PACKAGE):
                    continue
                inherit = klass.__dict__.get("_inherit") or ()
                inherit = [inherit] if isinstance(inherit, str) else list(inherit)
                if klass.__dict__.get("_name") == name or name in inherit:
                    names.append(name)
                    break
        return names

    def surface(self):
        """{(model, method): function} of every public method defined by the addon."""
        found = {}
        for name in self.addon_models:
            model = self.env[name]
            for klass in type(model).__mro__:
                if not klass.__module__.startswith(ADDON_PACKAGE):
                    continue
                for attr, value in vars(klass).items():
                    if attr.startswith("_") or attr == "init" or attr in ORM_METHODS:
                        continue
                    if not inspect.isfunction(inspect.unwrap(value)):
                        continue
                    found.setdefault((name, attr), value)
        return found

    # -- hostile arguments, by parameter name ------------------------------------------------
    def hostile_args(self, model, method, function):
        """Up to two (args, kwargs) sets: the colleague's records, then hostile values."""
        victim = self.victim
        is_model_method = getattr(function, "_api", None) is not None
        params = _params(function)
        ids_a = [] if is_model_method else self.records.get(model, [HUGE])
        by_name_a = {
            "mailbox": victim["mailbox"].id,
            "mailboxes": victim["mailbox"].ids,
            "message": victim["message"].id,
            "messages": (victim["message"] | victim["queued"]).ids,
            "ids": (victim["message"] | victim["queued"]).ids,
            "links": victim["link"].ids,
            "res_model": "crm.lead",
            "model": "crm.lead",
            "res_id": victim["lead"].id,
            "thread_id": victim["lead"].id,
            "record_id": victim["lead"].id,
            "address": f"secret.client@{CLIENT_DOMAIN}",
            "dbname": OTHER_DB,
            "folder": victim["folder"].id,
            "partners": victim["partner"].ids,
            "kind": "relink",
            "name": "x",
            "forms": [f"secret.client@{CLIENT_DOMAIN}"],
            "items": [],
            "raw": self.forwarded_raw(),
            "mails": [],
            "exc": "x",
            "failure": "x",
            "decision": "create",
            "size": 10,
        }
        if model.endswith("message_process") or method == "message_process":
            by_name_a["message"] = self.forwarded_raw()
        by_name_b = {
            **by_name_a,
            "dbname": OTHER_DB + EVIL,
            "limit": HUGE,
            "size": HUGE,
            "chunk": HUGE,
            "batch_size": HUGE,
            "offset": -1000,
            "minutes": -1000,
            "min_validity": -1000,
            "time_budget": -1000,
            "deadline": -1,
            "ids": [-1, HUGE],
            "messages": [-1, HUGE],
            "address": f"secret.client@{CLIENT_DOMAIN}{EVIL}",
            "name": EVIL,
            "res_model": "crm.lead" + EVIL,
            "model": "res.users",
            "res_id": -1,
        }
        sets = []
        for by_name, with_optional in ((by_name_a, False), (by_name_b, True)):
            kwargs = {}
            for param, has_default in params:
                if param in by_name and (not has_default or with_optional or param == "ids"):
                    kwargs[param] = by_name[param]
                elif not has_default:
                    kwargs[param] = victim["lead"].id
            args = [] if is_model_method else [ids_a]
            sets.append((args, kwargs))
        if sets[0] == sets[1]:
            sets.pop()
        return sets

    def forwarded_raw(self):
        return (
            f"From: secret.client@{CLIENT_DOMAIN}\r\n"
            f"To: mcl-audit-victim@{OUR_DOMAIN}\r\n"
            f"Message-ID: <audit.forged@{CLIENT_DOMAIN}>\r\n"
            "Subject: forged into the colleague's mailbox\r\n\r\nforged\r\n"
        )

    # -- spies ---------------------------------------------------------------------------------
    def install_spies(self):
        from odoo import sql_db

        from odoo.addons.base.models import ir_mail_server

        self.events = []
        events = self.events

        def spy(owner, attr, label, run=True):
            original = getattr(owner, attr)

            def wrapper(*args, **kwargs):
                where = _addon_frame()
                if where:
                    events.append(f"{label} from {where}")
                if not run and where:
                    return None
                return original(*args, **kwargs)

            self.patch(owner, attr, wrapper)

        # the test cursor: odoo.sql_db on Odoo 18, odoo.tests.test_cursor on Odoo 19
        test_cursor = getattr(sql_db, "TestCursor", None)
        if test_cursor is None:
            from odoo.tests.test_cursor import TestCursor as test_cursor
        spy(test_cursor, "commit", "commit")
        spy(sql_db.Cursor, "commit", "commit")
        spy(threading.Thread, "start", "thread started", run=False)
        mail_server_class = next(
            klass
            for klass in vars(ir_mail_server).values()
            if isinstance(klass, type) and "send_email" in vars(klass)
        )
        spy(mail_server_class, "send_email", "mail handed to ir.mail_server")

    def max_ids(self):
        result = {}
        for table in self.tables:
            self.env.cr.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
            result[table] = self.env.cr.fetchone()[0]
        return result

    # -- one JSON-RPC call ---------------------------------------------------------------------
    def login(self, key):
        user = self.users[key]
        self.authenticate(user.login, user.login + "-Pw-1234")

    def call(self, model, method, args, kwargs):
        """(result or None, error dict or None, raw answer text, side effects)."""
        self.events.clear()
        before_ids = self.max_ids()
        before_trap = self.trap.connections
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        text = response.text
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"data": {"name": f"HTTP {response.status_code}", "message": text}}}
        effects = list(self.events)
        if self.trap.connections != before_trap:
            effects.append(f"{self.trap.connections - before_trap} connection(s) to a mailbox")
        after_ids = self.max_ids()
        for table, before in before_ids.items():
            if after_ids[table] != before:
                effects.append(f"row(s) inserted in {table}")
        self.env.invalidate_all()
        return body.get("result"), body.get("error"), text, effects

    @staticmethod
    def error_name(error):
        return ((error or {}).get("data") or {}).get("name", "")

    @staticmethod
    def is_access_error(error):
        return TestRpcSurfaceAudit.error_name(error) == "odoo.exceptions.AccessError"

    @staticmethod
    def is_refusal(error):
        return TestRpcSurfaceAudit.error_name(error) in (
            "odoo.exceptions.AccessError",
            "odoo.exceptions.UserError",
            "odoo.exceptions.MissingError",
            "odoo.exceptions.ValidationError",
        )

    @staticmethod
    def summary(error):
        data = (error or {}).get("data") or {}
        message = (data.get("message") or "").replace("\n", " ")
        return f"{data.get('name', '?').rpartition('.')[2]}: {message[:90]}"

    # -- the audit -----------------------------------------------------------------------------
    def test_rpc_surface(self):
        surface = self.surface()
        self.assertGreater(len(surface), 50, "the enumeration found the addon's methods")
        self.install_spies()
        violations = defaultdict(list)
        notes = []
        readable = {}
        for key, user in self.users.items():
            for model, ids in self.records.items():
                if ids:
                    records = self.env[model].with_user(user).browse(ids)
                    readable[key, model] = records.has_access("read")
        for key in self.users:
            self.login(key)
            for (model, method), function in sorted(surface.items()):
                entry = ALLOW_LIST.get((model, method))
                is_model_method = getattr(function, "_api", None) is not None
                if self.env[model]._abstract and not is_model_method:
                    continue  # no records to call it on
                for args, kwargs in self.hostile_args(model, method, function):
                    _result, error, text, effects = self.call(model, method, args, kwargs)
                    where = f"{model}.{method} as {key}"
                    violations[where].extend(effects)
                    if MARKER in text:
                        place = "answer" if error is None else "error message"
                        violations[where].append(f"its {place} shows the colleague's data")
                    may_read = readable.get((key, model), False)
                    self.judge(where, entry, is_model_method, may_read, error, violations, notes)
                    if error is not None and self.is_access_error(error):
                        break  # refused at the top: the other argument set is not needed
        self.check_fields(violations, notes)
        self.report(violations, notes)

    def judge(self, where, entry, is_model_method, may_read, error, violations, notes):
        """One call's verdict against its ALLOW_LIST entry."""
        if entry is None:
            if error is None:
                violations[where].append("not in ALLOW_LIST and it succeeded")
            elif not self.is_access_error(error):
                violations[where].append(
                    "not in ALLOW_LIST and not refused: " + self.summary(error)
                )
        elif entry[0] == "record" and not is_model_method:
            if error is None and not may_read:
                violations[where].append("succeeded on records the caller may not read")
            elif error is not None and not self.is_refusal(error):
                notes.append(f"{where}: crashed: {self.summary(error)}")
        elif error is not None and not self.is_refusal(error):
            notes.append(f"{where}: crashed: {self.summary(error)}")

    def test_every_public_method_has_a_decision(self):
        """The allow-list names only methods that exist (a renamed one leaves no stale entry);
        a model this Odoo series does not have (compat.py) is not audited on it."""
        surface = self.surface()
        stale = sorted(
            f"{m}.{n}" for (m, n) in ALLOW_LIST if m in self.env.registry and (m, n) not in surface
        )
        self.assertFalse(stale, f"ALLOW_LIST names methods that are gone: {stale}")

    # -- fields: forged bookkeeping and foreign records on create/write -----------------------
    def forged_values(self, model):
        """{field: forged value} of the addon's read-only bookkeeping fields of ``model``, and
        every many-to-one of the addon pointed at a record of the colleague."""
        victim = self.victim
        by_comodel = {
            "crm.lead": victim["lead"].id,
            "fetchmail.server": victim["mailbox"].id,
            "mailbox.message": victim["message"].id,
            "mailbox.message.link": victim["link"].id,
            "mailbox.send.batch": victim["batch"].id,
            "mailbox.folder": victim["folder"].id,
            "mail.template": victim["template"].id,
            "res.users": self.colleague.id,
            "mail.message": victim["mail_message"].id,
            "ir.mail_server": victim["mail_server"].id,
        }
        magic = {"id", "create_uid", "create_date", "write_uid", "write_date"}
        forged = {}
        for name, field in self.env[model]._fields.items():
            if name in magic or getattr(field, "_module", None) != "mail_crm_link":
                continue
            if not field.store or (field.compute and not field.readonly):
                continue
            if field.type == "many2one":
                if field.comodel_name in by_comodel:
                    forged[name] = by_comodel[field.comodel_name]
                continue
            if not field.readonly or field.related:
                continue
            if field.type == "integer":
                forged[name] = -1000
            elif field.type == "boolean":
                forged[name] = True
            elif field.type in ("char", "text"):
                forged[name] = "forged-value"
            elif field.type == "datetime":
                forged[name] = "2001-01-01 00:00:00"
            elif field.type == "selection":
                values = [v for v, _l in field._description_selection(self.env)]
                default = self.env[model].default_get([name]).get(name)
                others = [v for v in values if v != default]
                if others:
                    forged[name] = others[-1]
            elif field.type == "json":
                forged[name] = [victim["lead"].id]
        return forged

    def base_values(self, model, key):
        """Values a create of ``model`` needs besides the forged ones (the caller's own)."""
        victim = self.victim
        own = {
            "mailbox.send.batch": {"name": "mine"},
            "mailbox.connect": {"email": f"{self.users[key].login}@{OUR_DOMAIN}"},
            "mailbox.lead.choice": {"message_id": victim["message"].id, "kind": "lead"},
            "mailbox.lead.choice.line": {"lead_id": victim["lead"].id},
            "mailbox.link.wizard": {"message_ids": [Command.set(victim["message"].ids)]},
            "mailbox.why.not": {"res_model": "crm.lead", "res_id": victim["lead"].id},
            "mailbox.why.not.line": {"message_id": victim["message"].id},
            "mailbox.link.suggestion": {"partner_id": victim["partner"].id},
            "mailbox.compose": {
                "res_model": "crm.lead",
                "res_id": victim["lead"].id,
                "email_to": f"secret.client@{CLIENT_DOMAIN}",
                "subject": "hello",
            },
            "mailbox.mass.compose": {
                "res_model": "crm.lead",
                "res_ids": [victim["lead"].id],
            },
            "mailbox.message": {"dedup_key": "forged"},
            "mailbox.folder": {"name": "X", "label": "X"},
            "mailbox.message.link": {},
            "mailbox.sync.job": {"kind": "relink"},
            "mailbox.address.claim": {"address": "a@b.example", "claimed_at": "2026-01-01"},
            "mailbox.pop.skip": {"uidl": "1"},
            "res.partner.email": {
                "partner_id": victim["foreign_partner"].id,
                "email": f"redirect@{CLIENT_DOMAIN}",
            },
            "fetchmail.server": {"name": "mine", "server_type": "imap"},
            "mail.notification": {"res_partner_id": self.users[key].partner_id.id},
            "mail.message": {"model": "res.partner", "res_id": self.users[key].partner_id.id},
        }
        return own.get(model)

    def check_fields(self, violations, notes):
        for key in self.users:
            self.login(key)
            for model in self.addon_models:
                base = self.base_values(model, key)
                forged = self.forged_values(model) if base is not None else {}
                if not forged:
                    continue
                parent = {
                    "mailbox.lead.choice.line": "mailbox.lead.choice",
                    "mailbox.link.suggestion": "mailbox.link.wizard",
                    "mailbox.why.not.line": "mailbox.why.not",
                }.get(model)
                if parent:  # a line needs a wizard of the caller's own
                    wizard, _e, _t, _f = self.call(
                        parent, "create", [self.base_values(parent, key)], {}
                    )
                    if not wizard:
                        continue
                    base = {**base, "wizard_id": wizard}
                where = f"{model}.create as {key}"
                new_id, error, text, effects = self.call(model, "create", [{**base, **forged}], {})
                violations[where].extend(effects)
                if error is not None:
                    # refused as a whole: does a plain create and a write let them in?
                    new_id, error, _t, _f = self.call(model, "create", [base], {})
                    if error is not None:
                        continue
                    where = f"{model}.write as {key}"
                    _r, error, text, effects = self.call(model, "write", [[new_id], forged], {})
                    violations[where].extend(effects)
                    if error is not None:
                        continue
                stored = self.env[model].sudo().browse(new_id)
                accepted = []
                for name, value in forged.items():
                    field = stored._fields[name]
                    got = stored[name]
                    got = got.id if field.type == "many2one" else got
                    if field.type == "datetime" and got:
                        got = str(got)
                    if got == value:
                        accepted.append(name)
                if accepted:
                    violations[where].append("accepted forged " + ", ".join(sorted(accepted)))
                _r, error, text, _f = self.call(model, "read", [[new_id]], {})
                if MARKER in text:
                    violations[f"{model}.read as {key}"].append(
                        "a record it created shows the colleague's data"
                    )

    def report(self, violations, notes):
        violations = {where: sorted(set(what)) for where, what in violations.items() if what}
        known = {where: what for where, what in violations.items() if where in KNOWN_OPEN}
        new = {where: what for where, what in violations.items() if where not in KNOWN_OPEN}
        mended = sorted(set(KNOWN_OPEN) - set(violations))
        for note in sorted(set(notes)):
            _logger.info("[rpc audit note] %s", note)
        for where, what in sorted(known.items()):
            _logger.warning("[rpc audit: still open] %s: %s", where, "; ".join(what))
        lines = [f"- {where}: {'; '.join(what)}" for where, what in sorted(new.items())]
        lines += [f"- {where}: no longer happens; take it off KNOWN_OPEN" for where in mended]
        if lines:
            self.fail(
                f"RPC surface audit: {len(new)} new violation(s), {len(mended)} mended "
                f"(allow-list: {len(ALLOW_LIST)} entries, known open: {len(KNOWN_OPEN)})\n"
                + "\n".join(lines)
            )
