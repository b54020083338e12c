from odoo import api, fields, models

from ..mailflow import explain

REASONS = [
    (explain.NOT_ERROR, "In error"),
    (explain.NOT_MODE_MANUAL, "Mailbox links by hand"),
    (explain.NOT_MODE_OFF, "Mailbox does not link"),
    (explain.NOT_SPAM, "In the spam folder"),
    (explain.NOT_INTERNAL, "Internal"),
    (explain.NOT_NEVER_LOG, "Never logged"),
    (explain.NOT_LIST, "Mailing list"),
    (explain.NOT_BOUNCE, "Delivery report"),
    (explain.NOT_AUTO_REPLY, "Automatic reply"),
    (explain.NOT_DEFERRED, "Waiting to be linked"),
    (explain.NOT_ELSEWHERE, "Linked elsewhere"),
    (explain.NOT_MATCHED, "Matched nothing"),
    (explain.ONLY_PRIVATE, "Private"),
    (explain.ONLY_STRICT, "Strict visibility"),
]


class MailboxWhyNotLine(models.TransientModel):
    """One mail of ``mailbox.why.not``. What it shows of the mail is read as the user
    (plain computed fields, not related ones, which Odoo reads as superuser)."""

    _name = "mailbox.why.not.line"
    _inherit = "mailbox.chosen.mixin"
    _mcl_chosen = ("message_id",)  # read back as the user (chosen.py)
    _description = "Mail Not on the Card, and Why"
    _order = "id"

    wizard_id = fields.Many2one("mailbox.why.not", required=True, ondelete="cascade")
    message_id = fields.Many2one("mailbox.message", string="Mail", required=True, readonly=True)
    reason = fields.Selection(REASONS, required=True, readonly=True)
    detail = fields.Char(readonly=True)
    can_link = fields.Boolean(readonly=True)
    date = fields.Datetime(compute="_compute_mail")
    subject = fields.Char(compute="_compute_mail")
    correspondent = fields.Char(compute="_compute_mail")
    advice = fields.Char(string="What To Do", compute="_compute_advice")

    @api.depends("message_id")
    def _compute_mail(self):
        for line in self:
            message = line.message_id
            line.date = message.date
            line.subject = message.subject
            line.correspondent = (
                message.to_display if message.direction == "outgoing" else message.from_display
            )

    @api.depends("reason")
    def _compute_advice(self):
        _ = self.env._
        advice = {
            explain.NOT_ERROR: _("It could not be read: open it; an administrator can retry it."),
            explain.NOT_MODE_MANUAL: _("Its mailbox links mail by hand: Link Here."),
            explain.NOT_MODE_OFF: _("Its mailbox does not link mail to the CRM: Link Here."),
            explain.NOT_SPAM: _("Link Here if it is not spam."),
            explain.NOT_INTERNAL: _("Link Here if the conversation concerns this client."),
            explain.NOT_NEVER_LOG: _(
                "An administrator can take the address off the never-log list; or Link Here."
            ),
            explain.NOT_LIST: _("Link Here, or let the mailbox keep mailing lists."),
            explain.NOT_BOUNCE: _("Link Here if it matters."),
            explain.NOT_AUTO_REPLY: _("Link Here if it matters."),
            explain.NOT_DEFERRED: _("It is linked at the next pass."),
            explain.NOT_ELSEWHERE: _("Link Here too."),
            explain.NOT_MATCHED: _(
                "The address was on no record when the mail arrived: Link Here."
            ),
            explain.ONLY_PRIVATE: _("On the card for its mailbox's owner and sales managers only."),
            explain.ONLY_STRICT: _(
                "On the card only for users who may read every record it is linked to."
            ),
        }
        for line in self:
            line.advice = advice.get(line.reason, "")

    def action_link_here(self):
        """Put the mail on the card: the link checks that the user may read the mail and
        edit the card."""
        self.ensure_one()
        record = self.wizard_id._mcl_card()
        self.env["mailbox.message.link"]._add_links(self.message_id, record)
        return self.wizard_id.action_refresh()

    def action_open_mail(self):
        self.ensure_one()
        self.message_id.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "res_model": "mailbox.message",
            "res_id": self.message_id.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
