from odoo import api, fields, models

from .. import compat


class MailboxAddressClaim(models.Model):
    """The last time a transaction claimed a new address to create its record (see
    ``mailbox.record.factory.claim``). One row per address; only the claim's concurrency
    matters, so rows older than a day are removed by the autovacuum."""

    _name = "mailbox.address.claim"
    _description = "Claim on a New Address"
    _log_access = False

    address = fields.Char(required=True)
    claimed_at = fields.Datetime(required=True)

    _address_uniq = compat.Constraint("unique(address)", "An address is claimed in one row.")

    @api.autovacuum
    def _gc_old_claims(self):
        self.env.cr.execute(
            "DELETE FROM mailbox_address_claim WHERE claimed_at < now() AT TIME ZONE 'UTC' "
            "- interval '1 day'"
        )
