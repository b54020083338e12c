from odoo import api, fields, models

from ..mailflow import addresses, triage

KINDS = [
    ("contact", "Contact"),
    ("company", "Company"),
    ("lead", "Lead"),
    ("deal", "Deal"),
]


class MailboxLinkSuggestion(models.TransientModel):
    """One record offered by "Link to…" for a mail of the triage queue: made by
    ``mailbox.message.action_triage_link`` from what the user may read, ranked by
    ``mailflow.triage``. One click links the wizard's mail to it."""

    _name = "mailbox.link.suggestion"
    _inherit = "mailbox.chosen.mixin"
    # many-to-ones a user names: read back as the user (chosen.py); a line made over RPC
    # naming a colleague's lead is refused like the wizard's own fields
    _mcl_chosen = ("wizard_id", "partner_id", "lead_id")
    _description = "Suggested Record to Link a Mail To"
    _order = "id"  # made best first

    wizard_id = fields.Many2one("mailbox.link.wizard", required=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Contact or Company", readonly=True)
    lead_id = fields.Many2one("crm.lead", string="Lead or Deal", readonly=True)
    name = fields.Char(string="Record", readonly=True)
    kind = fields.Selection(KINDS, readonly=True)
    reason = fields.Char(string="Why", readonly=True)

    @api.model
    def _mcl_values(self, record, reasons, address):
        """The values of a line for ``record``, suggested for ``reasons`` (``mailflow.triage``)
        to a mail of ``address``: the reasons told as the user reads them."""
        domain = addresses.domain_of(addresses.normalize(address or ""))
        told = {
            triage.THREAD: self.env._("on this conversation"),
            triage.ADDRESS: self.env._("has this address"),
            triage.CORRESPONDENT: self.env._("on recent mail of this correspondent"),
            triage.DOMAIN: self.env._("same domain (%s)", domain),
        }
        if record._name == "crm.lead":
            kind = "deal" if record.type == "opportunity" else "lead"
            values = {"lead_id": record.id, "kind": kind}
        else:
            kind = "company" if record.is_company else "contact"
            values = {"partner_id": record.id, "kind": kind}
        values["name"] = record.display_name  # as the user reads it
        values["reason"] = ", ".join(told[r] for r in reasons)
        return values

    def action_link(self):
        """Link the wizard's mail to this record (the link checks that the user may read the
        mail and edit the record) and close."""
        self.ensure_one()
        self.check_access("read")
        record = self.lead_id or self.partner_id
        self.env["mailbox.message.link"]._add_links(self.wizard_id.message_ids, record)
        return {"type": "ir.actions.act_window_close"}
