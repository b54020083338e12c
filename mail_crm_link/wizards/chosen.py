"""What a user put in a wizard's row is theirs to see (issue 23).

``create`` accepts any id over RPC, and a many-to-one is read back with its display name
(which Odoo reads as superuser): a wizard row naming a colleague's lead or personal mailbox
would show its name. Each wizard checks, as the user, the records chosen in such fields.

The check runs from ``create`` and ``write``, never from ``@api.constrains``: Odoo 19 runs
constraints as superuser (``BaseModel._validate_fields``), where every record is readable.

A wizard inherits ``mailbox.chosen.mixin`` and lists its fields in ``_mcl_chosen``.
"""

from odoo import api, models


def check_chosen(records, names):
    """Raise AccessError unless the user may read every record named in ``names``."""
    if records.env.su:
        return
    for record in records:
        for name in names:
            chosen = record[name]
            if chosen:
                chosen.check_access("read")


def check_written(records, vals, names):
    """``check_chosen`` for the fields of ``names`` a ``write`` of ``vals`` changed."""
    written = [name for name in names if name in vals]
    if written:
        check_chosen(records, written)


class MailboxChosenMixin(models.AbstractModel):
    """Checks, as the user, the records named in the fields of ``_mcl_chosen``."""

    _name = "mailbox.chosen.mixin"
    _description = "Chosen Records Check"
    _mcl_chosen = ()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        check_chosen(records, self._mcl_chosen)
        return records

    def write(self, vals):
        result = super().write(vals)
        check_written(self, vals, self._mcl_chosen)
        return result
