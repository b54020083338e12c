from collections import defaultdict

from odoo import api, fields, models, tools

from .mailbox_message_link import drop_external_recipients


class ResPartner(models.Model):
    _inherit = "res.partner"

    extra_email_ids = fields.One2many(
        "res.partner.email", "partner_id", string="Other Email Addresses"
    )
    mcl_link_ids = fields.One2many("mailbox.message.link", "partner_id", string="Mail Links")
    mcl_message_count = fields.Integer(compute="_compute_mcl_message_count", string="Emails")

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

    def _compute_mcl_message_count(self):
        """The mails on this card that the user may see (0 without access to stored mail)."""
        Message = self.env["mailbox.message"]
        readable = Message.has_access("read")
        for record in self:
            record.mcl_message_count = readable and Message.search_count(
                [("link_ids.partner_id", "=", record.id)]
            )

    def action_mcl_messages(self):
        """ "Emails": the mail linked to this card, where it can be removed from the card."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_crm_link.mailbox_message_action"
        )
        action.update(
            name=self.env._("Emails of %s", self.display_name),
            domain=[("link_ids.partner_id", "=", self.id)],
            context={"mcl_res_model": self._name, "mcl_res_id": self.id, "create": False},
        )
        return action

    def action_mcl_files(self):
        """ "Files": attachments of the mail on this card (for a company, of all its people)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_crm_link.mailbox_message_file_action"
        )
        action["domain"] = ["|", ("partner_id", "=", self.id), ("client_id", "=", self.id)]
        return action

    def action_mcl_compose(self):
        """ "New Email" from the card, sent through a CRM mailbox and linked to the card."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("New Email"),
            "res_model": "mailbox.compose",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_res_model": self._name, "default_res_id": self.id},
        }

    def _notify_get_recipients(self, message, msg_vals, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals, **kwargs)
        return drop_external_recipients(self.env, recipients)
