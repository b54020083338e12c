from markupsafe import Markup

from odoo import fields, models


class MailboxCardMixin(models.AbstractModel):
    """What a CRM card (contact, company, lead, deal) shows of its mail: the Emails and Files
    buttons and "New Email". ``_mcl_link_field`` names the link's field for this model."""

    _name = "mailbox.card.mixin"
    _description = "CRM Card With Linked Mail"
    _mcl_link_field = None

    mcl_message_count = fields.Integer(compute="_compute_mcl_message_count", string="Emails")
    mcl_unsent_count = fields.Integer(
        compute="_compute_mcl_message_count",
        string="Not Sent",
        help="Mail written from this card that the outgoing server did not take.",
    )

    def _compute_mcl_message_count(self):
        """The mails on this card that the user may see (0 without access to stored mail)."""
        Message = self.env["mailbox.message"]
        readable = Message.has_access("read")
        for record in self:
            on_card = [(f"link_ids.{self._mcl_link_field}", "=", record.id)]
            record.mcl_message_count = readable and Message.search_count(on_card)
            record.mcl_unsent_count = readable and Message.search_count(
                [*on_card, ("send_state", "=", "failed")]
            )

    def action_mcl_messages(self):
        """ "Emails": the mail linked to this card, where it can be removed from the card."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_crm_link.mailbox_message_action"
        )
        action.update(
            name=self.env._("Emails of %s", self.display_name),
            domain=[(f"link_ids.{self._mcl_link_field}", "=", self.id)],
            context={"mcl_res_model": self._name, "mcl_res_id": self.id, "create": False},
        )
        return action

    def action_mcl_unsent_messages(self):
        """ "Not Sent": the card's mail that failed to leave, with the reason and Retry."""
        action = self.action_mcl_messages()
        action["domain"] = [*action["domain"], ("send_state", "=", "failed")]
        action["name"] = self.env._("Not sent: %s", self.display_name)
        action["help"] = Markup("<p class='o_view_nocontent_smiling_face'>%s</p><p>%s</p>") % (
            self.env._("Nothing waits here"),
            self.env._(
                "Every mail written from this card has left. A mail that cannot leave "
                "shows here with the reason and a Retry button."
            ),
        )
        return action

    def unlink(self):
        """Deleting a card takes its mail off it first, as "Remove from card" does (the
        links' ``_mcl_remove``): the database would drop the links by itself (ON DELETE
        CASCADE) but leave their mail "Linked" on no record and out of the triage queue.
        Who may delete the card is Odoo's to say, checked before anything is touched."""
        self.check_access("unlink")
        links = (
            self.env["mailbox.message.link"].sudo().search([(self._mcl_link_field, "in", self.ids)])
        )
        links._mcl_remove(deleted=True)
        return super().unlink()

    def action_mcl_why_not(self):
        """ "Why not?": the recent mail of this card's addresses that is not on it, and why
        (``mailbox.why.not``; read as the user)."""
        self.ensure_one()
        action = self.env["mailbox.why.not"]._mcl_open(self)
        # its list holds sentences (reason, detail, what to do): the widest dialog
        action["context"] = {**action.get("context", {}), "dialog_size": "extra-large"}
        return action

    def _mcl_files_domain(self):
        return [(self._mcl_link_field, "=", self.id)]

    def action_mcl_files(self):
        """ "Files": attachments of the mail on this card."""
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_crm_link.mailbox_message_file_action"
        )
        action["domain"] = self._mcl_files_domain()
        return action

    def _mcl_client_address(self):
        """Where this card's mail goes: a contact's address; a deal's client's (else its
        company's, else the deal's own) address."""
        self.ensure_one()
        if self._name == "res.partner":
            return self.email or self.commercial_partner_id.email or ""
        partner = self.partner_id
        return partner.email or partner.commercial_partner_id.email or self.email_from or ""

    def action_mcl_compose(self):
        """ "New Email" from the card, sent through a CRM mailbox and linked to the card."""
        self.ensure_one()
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("New Email"),
            "res_model": "mailbox.compose",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_res_model": self._name, "default_res_id": self.id},
        }
