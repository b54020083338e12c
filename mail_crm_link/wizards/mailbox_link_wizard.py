from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError


class MailboxLinkWizard(models.TransientModel):
    """Link one or more mails to an existing contact, company, lead or deal. The choices are
    what the user may read (record rules); linking checks that they may edit the record."""

    _name = "mailbox.link.wizard"
    _inherit = "mailbox.chosen.mixin"
    # many-to-ones a user names: read back as the user (chosen.py)
    _mcl_chosen = ("partner_id", "lead_id")
    _description = "Link Mail to a CRM Record"

    message_ids = fields.Many2many("mailbox.message", string="Mail", required=True)
    target = fields.Selection(
        [("partner", "Contact or Company"), ("lead", "Lead or Deal")],
        default="partner",
        required=True,
    )
    partner_id = fields.Many2one("res.partner", string="Contact or Company")
    lead_id = fields.Many2one("crm.lead", string="Lead or Deal")
    suggestion_ids = fields.One2many(
        "mailbox.link.suggestion", "wizard_id", string="Suggestions", readonly=True
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "mailbox.message":
            values["message_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    def action_link(self):
        self.ensure_one()
        record = self.lead_id if self.target == "lead" else self.partner_id
        if not record:
            raise UserError(self.env._("Choose the record to link the mail to."))
        # the mails the wizard holds, all of them: Odoo may read a many-to-many through the
        # record rules, which silently leaves out those the user may not read
        messages = self.sudo().message_ids.with_env(self.env)
        hidden = messages - messages._filtered_access("read")
        if hidden:
            raise AccessError(
                self.env._(
                    "You may not read %(hidden)s of these %(count)s mails (private mail, or "
                    "mail of a mailbox not shared with you): nothing was linked. Choose "
                    "only mail you can open.",
                    hidden=len(hidden),
                    count=len(messages),
                )
            )
        self.env["mailbox.message.link"]._add_links(messages, record)
        return {"type": "ir.actions.act_window_close"}
