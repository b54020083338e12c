"""What differs between the Odoo series mail_crm_link runs on: 18.0 and 19.0.

The addon is written once. Wherever 18 and 19 disagree, the code goes through a name of this
module instead of testing the version itself, so that this file is the one list of the
differences (and the one place to simplify when 18 is dropped). Each entry says what changed
and who uses it.

Features are detected (``hasattr``) where Odoo offers something to detect; ``SERIES`` is for
the rest.
"""

import contextlib

from odoo import models, release
from odoo.tools import config

SERIES = int(release.version_info[0])  # 18 or 19


# -- SQL constraints ---------------------------------------------------------------------------
# 18 reads a model's ``_sql_constraints`` list; 19 ignores that list (with a warning: the
# constraints silently vanish) and reads ``models.Constraint`` class attributes instead, whose
# attribute name (without its "_") names the constraint, as the first item of an
# ``_sql_constraints`` tuple does. Declare every constraint as on 19:
#
#     _mailbox_dedup_uniq = compat.Constraint("UNIQUE(mailbox_id, dedup_key)", "...")
#
# Both series name it ``<table>_mailbox_dedup_uniq`` and reflect its message in
# ``ir.model.constraint`` (translatable) alike.
if hasattr(models, "Constraint"):  # 19
    Constraint = models.Constraint
else:  # 18

    class Constraint:
        """An SQL table constraint, declared as 19 does, stored in 18's ``_sql_constraints``
        of the class that declares it."""

        def __init__(self, definition, message=""):
            self.definition = definition
            self.message = message

        def __set_name__(self, owner, name):
            if not name.startswith("_"):
                raise TypeError(f"{owner.__name__}.{name}: constraint names start with '_'")
            local = owner.__dict__.get("_sql_constraints", [])
            owner._sql_constraints = [*local, (name[1:], self.definition, self.message)]


# -- users' groups -----------------------------------------------------------------------------
# ``res.users.groups_id`` (every group, implied ones included) became ``group_ids`` (the groups
# given) and ``all_group_ids`` (implied ones included) in 19; ``ir.actions.*.groups_id`` became
# ``group_ids``. XML data of this addon names neither (record rules use
# ``user._get_group_ids()``, which both series have and which includes implied groups; the
# actions for sales users get their group from hooks.py); Python code goes through these names.
ACTION_GROUPS = "group_ids" if SERIES >= 19 else "groups_id"
USER_GROUPS = "group_ids" if SERIES >= 19 else "groups_id"  # res.users


def add_action_groups(action, groups):
    """Restrict ``action`` (an ``ir.actions.*`` record) to ``groups`` (``res.groups``)."""
    action.write({ACTION_GROUPS: [(4, group.id) for group in groups]})


def group_users(group):
    """The users of ``group``, those who have it through an implying group included
    (``res.groups.users`` on 18, ``all_user_ids`` on 19)."""
    return group.all_user_ids if SERIES >= 19 else group.users


# -- Odoo's own fetchmail (mailboxes with CRM linking off) -------------------------------------
# 18: ``fetch_mail(raise_exception=True)`` fetches every server of the recordset, commits after
#     each mail, and is what the cron runs: ``_fetch_mails()`` is
#     ``search(...).fetch_mail(raise_exception=False)``.
# 19: ``fetch_mail()`` is the button only (one server, raises); the cron runs
#     ``_fetch_mails(**kw)`` → ``_fetch_mail(batch_limit=50)``: 50 mails per server and call,
#     a separate cursor per mail, ``ir.cron._commit_progress``, ``error_date`` /
#     ``error_message``, and a server left in error for 5 days is set back to draft.
#     ``connect()`` / ``_imap_login()`` became ``_connect__()`` / ``_imap_login__()`` (this
#     addon connects with its own code, mailflow/imap_sync.py and pop_sync.py; a test of
#     Odoo's own login with an encrypted password calls ``fetchmail_connect``).
def fetchmail_connect(server):
    """An open IMAP/POP session of Odoo's own fetchmail login for ``server``."""
    if SERIES >= 19:
        return server._connect__()
    return server.connect()


def fetch_native(servers, **kwargs):
    """Run Odoo's own fetchmail on ``servers`` as its cron does: a failure is logged (and, on
    19, kept on the server), never raised."""
    if SERIES >= 19:
        return servers._fetch_mail(**kwargs)
    return servers.fetch_mail(raise_exception=False)


# Every create, write and unlink of a fetchmail.server switches Odoo's fetch cron on or off
# (``_update_cron`` → ``ir.cron.toggle``), which writes the cron's row. 18 skips that when the
# row is locked or was changed by a concurrent transaction (``try_write``); 19 locks the row
# and a concurrent committed change fails the whole transaction (SerializationFailure): two
# workers saving two mailboxes' sync status would fail each other. Changes that cannot alter
# which mailboxes Odoo's cron fetches leave it alone, with the context key Odoo's own cron
# sets for the same purpose (both series).
def gateway_cron_untouched(records):
    """``records`` whose create/write/unlink do not switch Odoo's fetch cron."""
    return records.with_context(fetchmail_cron_running=True)


# -- cron progress -----------------------------------------------------------------------------
# 18: ``ir.cron._notify_progress(done=, remaining=)`` writes the run's progress (no commit).
# 19: that is deprecated; ``_commit_progress(processed, remaining=)`` adds ``processed`` to the
#     run's done count, writes, and commits (outside a cron run it only commits). Callers are
#     the services that own their commits (mailbox.sync, mailbox.outbox), at a checkpoint where
#     nothing is pending.
def cron_progress(env, *, done, remaining):
    """Report that this cron run has done ``done`` items so far and ``remaining`` are left."""
    if SERIES >= 19:
        progress = env["ir.cron.progress"].sudo().browse(env.context.get("ir_cron_progress_id"))
        processed = max(done - progress.done, 0) if progress else done
        env["ir.cron"]._commit_progress(processed, remaining=remaining)
    else:
        env["ir.cron"]._notify_progress(done=done, remaining=remaining)


# -- outgoing mail -----------------------------------------------------------------------------
# ``ir.mail_server.build_email`` and ``connect`` became ``_build_email__`` and ``_connect__``
# in 19 (same arguments). Odoo sends nothing while a test runs: 18 looks at
# ``odoo.modules.module.current_test``, 19 asks ``ir.mail_server._disable_send()`` (also true
# while the registry initializes), and sets ``current_test`` for every test, tours included.
def build_email(mail_server, **kwargs):
    """An ``email.message.EmailMessage`` built by ``mail_server`` (an ``ir.mail_server``)."""
    if SERIES >= 19:
        return mail_server._build_email__(**kwargs)
    return mail_server.build_email(**kwargs)


def smtp_connect(mail_server, **kwargs):
    """An SMTP session opened by ``mail_server`` (``None`` while Odoo sends nothing)."""
    if SERIES >= 19:
        return mail_server._connect__(**kwargs)
    return mail_server.connect(**kwargs)


def sending_disabled(env):
    """Whether Odoo sends no mail now (a test runs; on 19 also: the registry initializes)."""
    if SERIES >= 19:
        return bool(env["ir.mail_server"]._disable_send())
    from odoo import modules

    return bool(modules.module.current_test)


# -- chatter -----------------------------------------------------------------------------------
# 19's mail.message keeps the To and Cc of a mail that was already delivered
# (``incoming_email_to`` / ``incoming_email_cc``, shown in the chatter; ``message_post`` takes
# them as arguments); 18 has neither. (``outgoing_email_to``, also new in 19, *sends* to those
# addresses: never for published mail.)
def delivered_recipients(email_to, email_cc):
    """Values (for ``message_post`` or ``mail.message``) that show who a mail went to."""
    if SERIES >= 19:
        return {"incoming_email_to": email_to or False, "incoming_email_cc": email_cc or False}
    return {}


# -- delivery failures of a chatter entry ------------------------------------------------------
# 18: the red envelope of an entry whose mail failed opens Odoo's "Sending Failures" dialog
#     (``mail.resend.message`` / ``mail.resend.partner``, Resend and Ignore); this addon routes
#     it through its outbox for mail written in the CRM (wizards/mail_resend_*.py).
# 19: that dialog is gone (both models): the envelope opens a popover listing each recipient's
#     failure by its type; a failed mail is retried from the card's Emails list (Retry), as on
#     18, and the messaging menu's Ignore cancels the failures (``notify_cancel_by_type``).
RESEND_DIALOG = SERIES < 19


def web_client_data(records):
    """What the web client receives about ``records`` (chatter entries), read as their user:
    ``Store(records, for_current_user=True)`` on 18, ``Store().add(records)`` on 19."""
    from odoo.addons.mail.tools.discuss import Store

    if SERIES >= 19:
        return Store().add(records).get_result()
    return Store(records, for_current_user=True).get_result()


# ``mail.message.record_name`` is a stored column on 18 and computed, not stored, on 19.
# Chatter entries written in SQL (``mailbox.card.publisher._publish_history``) write the
# columns this series has.
def stored_columns(model, names):
    """Those of the field names ``names`` of ``model`` that are columns of its table here."""
    return tuple(name for name in names if name in model._fields and model._fields[name].store)


# -- command line ------------------------------------------------------------------------------
# 19 finds an addon's command by its file, cli/<name>.py, loads that file on its own as
# odoo.cli.<name> (relative imports fail: import the addon absolutely) and requires the
# command's name to be the file's name ([a-z0-9_]). 18 imports the addon and takes any name.
def command_alias(command, alias):
    """Also call ``command`` by ``alias`` where Odoo allows it (18: any name)."""
    if SERIES < 19:
        from odoo.cli.command import commands

        commands[alias] = command


def config_database():
    """The first database of the ``-d`` option: a comma-separated string on 18, a list on
    19."""
    names = config["db_name"] or []
    if isinstance(names, str):
        names = names.split(",")
    return names[0] if names else None


# 18's ``registry.in_test_mode()`` is gone in 19 (a test patches ``registry.cursor`` instead);
# in both, a cursor a test hands out is not an ``odoo.sql_db.Cursor`` (18:
# ``sql_db.TestCursor``, 19: ``odoo.tests.test_cursor.TestCursor``, which only tests import).
def is_test_cursor(cr):
    """Whether ``cr`` is a test's cursor (wrapping the test's transaction), not a connection
    of its own: it cannot change its isolation level nor commit for real."""
    from odoo import sql_db

    return not isinstance(cr, sql_db.Cursor)


# -- tests -------------------------------------------------------------------------------------
# 18: ``registry.enter_test_mode(cr)`` and ``registry.test_lock``; 19: the test case's
# ``registry_enter_test_mode(cr=...)`` and a lock the test's thread holds while it runs
# (``odoo.tests.common.release_test_lock``). 19 also gives up on a request that waits more
# than ``test_cursor_lock_timeout`` (20 s) for the test cursor, where 18 waits: the tour base
# class (tests/common.py) sets it higher, an attribute 18 ignores.
@contextlib.contextmanager
def registry_test_mode(test_case, cr):
    """Within: new cursors of ``test_case.registry``, from any thread, share ``cr``. Yields
    the lock that the test's thread takes to use ``cr`` while other threads may."""
    if SERIES >= 19:
        from odoo.tests import common  # only tests come here

        test_case.registry_enter_test_mode(cr=cr, register_cleanup=False)
        try:
            with common.release_test_lock():
                yield common._registry_test_lock
        finally:
            test_case.registry_leave_test_mode()
    else:
        registry = test_case.registry
        registry.enter_test_mode(cr)
        try:
            yield registry.test_lock
        finally:
            registry.leave_test_mode()


@contextlib.contextmanager
def real_smtp(env):
    """Within: Odoo really talks SMTP although a test runs (see ``sending_disabled``; 19
    needs ``current_test`` kept for every test cursor, a tour's requests included)."""
    if SERIES >= 19:
        from unittest.mock import patch

        # on the class that defines it, so that every registry's mail server talks SMTP
        # (the real-commit tests run in a copy of the database, a registry of its own)
        from odoo.addons.base.models.ir_mail_server import IrMail_Server

        with patch.object(IrMail_Server, "_disable_send", classmethod(lambda cls: False)):
            yield
    else:
        from odoo import modules

        saved = modules.module.current_test
        modules.module.current_test = None
        try:
            yield
        finally:
            modules.module.current_test = saved
