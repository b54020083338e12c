from collections import defaultdict

from odoo import api, fields, models, tools

from ..services.card_publisher import drop_external_recipients


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "mailbox.card.mixin"]
    _mcl_link_field = "partner_id"

    extra_email_ids = fields.One2many(
        "res.partner.email", "partner_id", string="Other Email Addresses"
    )
    # sales users only: a whole read() of a contact by an employee without CRM rights (other
    # addons do that) would fail on a model they may not read
    mcl_link_ids = fields.One2many(
        "mailbox.message.link",
        "partner_id",
        string="Mail Links",
        groups="sales_team.group_sale_salesman",
    )

    def init(self):
        # matching looks contacts up by address: an equality index (Odoo's own has none)
        tools.create_index(
            self.env.cr,
            "res_partner_mcl_email_normalized_index",
            self._table,
            ["email_normalized"],
            where="email_normalized IS NOT NULL",
        )

    @api.model
    def _mcl_find_by_addresses(self, forms):
        """Active contacts and companies having one of ``forms`` as their address or as one
        of their other addresses: ``{form: partners}``. Two indexed queries."""
        if not forms:
            return {}
        found = defaultdict(lambda: self.browse())
        for partner in self.search([("email_normalized", "in", list(forms))]):
            found[partner.email_normalized] |= partner
        extras = self.env["res.partner.email"].search(
            [("email_normalized", "in", list(forms)), ("partner_id.active", "=", True)]
        )
        for extra in extras:
            found[extra.email_normalized] |= extra.partner_id
        return dict(found)

    def _mcl_responsible_user(self):
        """The salesperson of the contact, else of its company."""
        self.ensure_one()
        return self.user_id or self.commercial_partner_id.user_id

    def _mcl_files_domain(self):
        """A company's card lists the files of all its people's mail too."""
        return ["|", ("partner_id", "=", self.id), ("client_id", "=", self.id)]

    def _notify_get_recipients(self, message, msg_vals=False, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals, **kwargs)
        return drop_external_recipients(self.env, recipients)
