from collections import defaultdict

from odoo import api, fields, models, tools

from ..services.card_publisher import drop_external_recipients


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "mailbox.card.mixin"]
    _mcl_link_field = "lead_id"

    mcl_link_ids = fields.One2many("mailbox.message.link", "lead_id", string="Mail Links")

    def init(self):
        # Odoo indexes this column for LIKE searches only (trigram); matching needs equality
        tools.create_index(
            self.env.cr,
            "crm_lead_mcl_email_normalized_index",
            self._table,
            ["email_normalized"],
            where="email_normalized IS NOT NULL",
        )

    @api.model
    def _mcl_find_by_addresses(self, forms):
        """Active leads and deals whose own address is one of ``forms``: ``{form: leads}``.

        A deal whose address is just its client's (Odoo copies it) is not matched here: it is
        reached through the client and the mailbox's deal setting."""
        if not forms:
            return {}
        found = defaultdict(lambda: self.browse())
        for lead in self.search([("email_normalized", "in", list(forms))]):
            if lead.partner_id.email_normalized == lead.email_normalized:
                continue
            found[lead.email_normalized] |= lead
        return dict(found)

    @api.model
    def _mcl_open_deals(self, clients):
        """Open (active, not won) opportunities of ``clients`` (commercial partners) and of
        their contacts: ``[(id, last update)]``."""
        if not clients:
            return []
        deals = self.search(
            [
                ("type", "=", "opportunity"),
                ("partner_id", "child_of", clients.ids),
                ("stage_id.is_won", "=", False),
            ]
        )
        return [(deal.id, deal.write_date) for deal in deals]

    @api.model
    def _mcl_open_deals_by_client(self, client_ids):
        """``{commercial partner id: [(deal id, last update)]}`` in one query."""
        deals = self.search(
            [
                ("type", "=", "opportunity"),
                ("partner_id.commercial_partner_id", "in", list(client_ids)),
                ("stage_id.is_won", "=", False),
            ]
        )
        found = defaultdict(list)
        for deal in deals:
            found[deal.partner_id.commercial_partner_id.id].append((deal.id, deal.write_date))
        return found

    def _mcl_responsible_user(self):
        self.ensure_one()
        return self.user_id

    def _merge_dependences(self, opportunities):
        """Merged leads bring their mail links to the lead that remains (once per mail)."""
        result = super()._merge_dependences(opportunities)
        links = (
            self.env["mailbox.message.link"].sudo().search([("lead_id", "in", opportunities.ids)])
        )
        kept = set(self.sudo().mcl_link_ids.message_id.ids)
        for link in links:
            if link.message_id.id in kept:
                link.unlink()
            else:
                kept.add(link.message_id.id)
                link.lead_id = self
        return result

    def _notify_get_recipients(self, message, msg_vals=False, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals, **kwargs)
        return drop_external_recipients(self.env, recipients)
