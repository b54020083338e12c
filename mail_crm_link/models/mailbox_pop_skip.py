from odoo import fields, models

from .. import compat


class MailboxPopSkip(models.Model):
    """A POP3 message left out of the initial import window: never fetched, never deleted."""

    _name = "mailbox.pop.skip"
    _description = "POP3 Message Outside the Import Window"
    _log_access = False

    mailbox_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    uidl = fields.Char(string="UIDL", required=True)

    _mailbox_uidl_uniq = compat.Constraint("unique(mailbox_id, uidl)", "A message is skipped once.")
