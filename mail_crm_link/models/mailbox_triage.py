from odoo import api, fields, models
from odoo.exceptions import UserError

from ..mailflow import addresses, classify, explain, triage
from .mailbox_message import TRIAGE_DOMAIN


class MailboxTriage(models.AbstractModel):
    """A mailbox's triage queue: its client mail that matched nothing and created nothing
    (see ``mailbox.message.in_triage``), counted for the current user, and the never-log
    list grown from it ("ignore this sender / domain from now on").

    Mixed into ``fetchmail.server``. The count and the queue are searched as the user: the
    record rules of ``mailbox.message`` decide what each user sees of it.
    """

    _name = "mailbox.triage"
    _description = "Triage Queue of a Mailbox"

    triage_count = fields.Integer(
        string="To Triage",
        compute="_compute_triage_count",
        help="Client mail of this mailbox you may read that is on no record and made none.",
    )

    @api.depends_context("uid")
    def _compute_triage_count(self):
        groups = self.env["mailbox.message"]._read_group(
            [("mailbox_id", "in", self.ids), *TRIAGE_DOMAIN], ["mailbox_id"], ["__count"]
        )
        counts = {mailbox.id: count for mailbox, count in groups}
        for mailbox in self:
            mailbox.triage_count = counts.get(mailbox.id, 0)

    def action_mcl_triage(self):
        """The smart button: this mailbox's queue, as the user may read it."""
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_crm_link.mailbox_message_action_triage"
        )
        action["domain"] = [("mailbox_id", "=", self.id)]
        action["display_name"] = self.env._("To Triage: %s", self.name)
        return action

    def _mcl_may_ignore(self, user):
        """Whether ``user`` may add correspondents to this mailbox's never-log list from the
        queue: it decides for every user's mail of the mailbox, so the owner of a personal
        mailbox, sales managers and administrators only (not a member it is shared with, not
        every sales user of a shared mailbox)."""
        self.ensure_one()
        if user._is_superuser():
            return True
        if user.has_group("sales_team.group_sale_manager") or user.has_group("base.group_system"):
            return True
        return self.mailbox_access == "personal" and self.owner_id == user

    def _mcl_triage_internal(self):
        """Our own addresses and domains: never on the never-log list."""
        own = self._mcl_address()
        return self._internal_set() | ({own} if own else set())

    def _mcl_never_log_add(self, address, scope):
        """Add ``address`` (``triage.SENDER``) or its ``@domain`` (``triage.WHOLE_DOMAIN``) to
        this mailbox's never-log list (the caller checked who may), then take the mail of
        the queue that is never logged now out of it. Refuses a mail provider's domain and
        our own addresses with a sentence that says why."""
        self.ensure_one()
        entry, problem = triage.never_log_entry(
            address,
            scope,
            internal=self._mcl_triage_internal(),
            listed=addresses.parse_internal(self.never_log),
        )
        if problem == triage.NO_ADDRESS:
            raise UserError(self.env._("This mail has no client address to ignore."))
        if problem == triage.GENERIC:
            raise UserError(
                self.env._(
                    "%s is a mail provider's domain: ignoring it would ignore everybody who "
                    "writes from it. Ignore the sender instead.",
                    addresses.domain_of(addresses.normalize(address)),
                )
            )
        if problem == triage.OURS:
            raise UserError(
                self.env._(
                    "%s is one of our own addresses or domains (the mailbox's internal "
                    "domains): our own mail is never CRM material already, it cannot be "
                    "ignored.",
                    addresses.normalize(address),
                )
            )
        if entry:  # ALREADY: listed before (by hand, say); the queue is brought up to date
            self.sudo().never_log = triage.add_entry(self.never_log, entry)
        return self._mcl_triage_reclassify(address, scope, listed=entry)

    def _mcl_triage_reclassify(self, address, scope, listed=None):
        """Classify again the queued mail that may be of ``address`` (or its domain); what is
        never logged now is "Never Logged", out of the queue, and its explanation says who
        put which entry on the list (the caller's user). Every queued mail of the mailbox,
        the user's or not: the list is the mailbox's. A mail with another client
        correspondent stays (it is still client mail)."""
        address = addresses.normalize(address or "")
        needle = f"@{addresses.domain_of(address)}" if scope == triage.WHOLE_DOMAIN else address
        Message = self.env["mailbox.message"].sudo()
        queued = Message.search(
            [
                ("mailbox_id", "=", self.id),
                *TRIAGE_DOMAIN,
                "|",
                "|",
                "|",
                ("sender", "ilike", needle),
                ("email_from", "ilike", needle),
                ("email_to", "ilike", needle),
                ("email_cc", "ilike", needle),
            ]
        )
        by_kind = {}
        for message in queued:
            kind = message._mcl_classify()
            if kind != classify.CLIENT:
                by_kind.setdefault(kind, Message)
                by_kind[kind] |= message
        for kind, messages in by_kind.items():
            messages.write({"mail_kind": kind, "state": "ignored"})
        # the mails now never logged say who did it, and the entry added ("listed"; none
        # when it was on the list already: the list was applied)
        said = explain.triaged(self.env.uid, explain.IGNORED, listed)
        never = by_kind.get(classify.EXCLUDED, Message)
        self.env["mailbox.crm.linker"]._write_routes({m.id: {"triage": said} for m in never})
        return Message.union(*by_kind.values())
