from odoo import api, fields, models

from ..mailflow import explain
from .chosen import MailboxChosenMixin

REASONS = [
    (explain.NOT_ERROR, "In error"),
    (explain.NOT_REMOVED, "Removed by hand"),
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
    _mcl_chosen = ("message_id", "wizard_id")  # read back as the user (chosen.py)
    _description = "Mail Not on the Card, and Why"
    _order = "id"

    wizard_id = fields.Many2one("mailbox.why.not", required=True, ondelete="cascade")
    message_id = fields.Many2one("mailbox.message", string="Mail", required=True, readonly=True)
    reason = fields.Selection(REASONS, readonly=True)
    detail = fields.Char(readonly=True)
    can_link = fields.Boolean(readonly=True)
    date = fields.Datetime(compute="_compute_mail")
    subject = fields.Char(compute="_compute_mail")
    correspondent = fields.Char(compute="_compute_mail")
    advice = fields.Char(string="What To Do", compute="_compute_advice")

    @api.model_create_multi
    def create(self, vals_list):
        """A line names its wizard and its mail; its reason, detail and action are found from
        them (``mailbox.why.not._mcl_judge``), whatever the caller sent."""
        lines = super().create(
            [
                {key: vals[key] for key in ("wizard_id", "message_id") if key in vals}
                for vals in vals_list
            ]
        )
        for wizard in lines.wizard_id:
            wizard._mcl_judge(lines.filtered(lambda li, w=wizard: li.wizard_id == w))
        return lines.exists()

    def write(self, vals):
        return super().write({k: v for k, v in vals.items() if k in ("wizard_id", "message_id")})

    def _mcl_set(self, vals):
        """The judged values (``_mcl_judge`` only)."""
        # past this model's own write, which keeps only the wizard and the mail
        return MailboxChosenMixin.write(self, vals)

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
        advice = {
            explain.NOT_ERROR: self.env._(
                "It could not be read: open it; an administrator can retry it."
            ),
            explain.NOT_REMOVED: self.env._(
                "Someone took it off this card by hand: Link Here to put it back if that was "
                "a mistake."
            ),
            explain.NOT_MODE_MANUAL: self.env._("Its mailbox links mail by hand: Link Here."),
            explain.NOT_MODE_OFF: self.env._(
                "Its mailbox does not link mail to the CRM: Link Here."
            ),
            explain.NOT_SPAM: self.env._("Link Here if it is not spam."),
            explain.NOT_INTERNAL: self.env._("Link Here if the conversation concerns this client."),
            explain.NOT_NEVER_LOG: self.env._(
                "An administrator can take the address off the never-log list; or Link Here."
            ),
            explain.NOT_LIST: self.env._("Link Here, or let the mailbox keep mailing lists."),
            explain.NOT_BOUNCE: self.env._("Link Here if it matters."),
            explain.NOT_AUTO_REPLY: self.env._("Link Here if it matters."),
            explain.NOT_DEFERRED: self.env._("It is linked at the next pass."),
            explain.NOT_ELSEWHERE: self.env._("Link Here too."),
            explain.NOT_MATCHED: self.env._(
                "The address was on no record when the mail arrived: Link Here."
            ),
            explain.ONLY_PRIVATE: self.env._(
                "On the card for its mailbox's owner and sales managers only."
            ),
            explain.ONLY_STRICT: self.env._(
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
        return self.message_id._mcl_form_action()
