import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import compat

_logger = logging.getLogger(__name__)

MAX_REMOVED = 20  # removals by hand kept in a mail's routing explanation, newest

LINK_TYPES = [
    ("address", "Address"),
    ("thread", "Conversation"),
    ("policy", "Created by Policy"),
    ("manual", "Manual"),
]


class MailboxMessageLink(models.Model):
    """A stored mail on one CRM record: a contact or company, or a lead or deal.

    One row per (message, record); how the link was made, by whom and when. The chatter entry
    posted on the record is kept so that a link is published once.
    """

    _name = "mailbox.message.link"
    _description = "Mail Link to a CRM Record"
    _order = "id desc"

    message_id = fields.Many2one(
        "mailbox.message", string="Mail", required=True, ondelete="cascade", index=True
    )
    partner_id = fields.Many2one(
        "res.partner", string="Contact", ondelete="cascade", index="btree_not_null"
    )
    lead_id = fields.Many2one(
        "crm.lead", string="Lead/Opportunity", ondelete="cascade", index="btree_not_null"
    )
    link_type = fields.Selection(LINK_TYPES, string="Linked By", required=True, default="manual")
    user_id = fields.Many2one(
        "res.users", string="Linked By User", default=lambda self: self.env.user, readonly=True
    )
    mail_message_id = fields.Many2one(
        "mail.message",
        string="Chatter Entry",
        ondelete="set null",
        readonly=True,
        index="btree_not_null",
    )
    company_id = fields.Many2one(
        "res.partner", string="Client", compute="_compute_context", help="The contact's company."
    )
    lead_partner_id = fields.Many2one(
        related="lead_id.partner_id", string="Deal Client", help="The client of the deal."
    )
    lead_stage_id = fields.Many2one(
        related="lead_id.stage_id", string="Stage", help="The stage of the deal."
    )
    mailbox_id = fields.Many2one(related="message_id.mailbox_id", store=True, index=True)
    date = fields.Datetime(related="message_id.date")
    subject = fields.Char(related="message_id.subject")
    direction = fields.Selection(related="message_id.direction")

    _one_target = compat.Constraint(
        "CHECK((partner_id IS NULL) != (lead_id IS NULL))",
        "A link points to exactly one contact or one lead.",
    )
    _partner_uniq = compat.Constraint(
        "unique(message_id, partner_id)", "This mail is already on the contact."
    )
    _lead_uniq = compat.Constraint(
        "unique(message_id, lead_id)", "This mail is already on the lead."
    )

    @api.depends("partner_id", "lead_id")
    def _compute_display_name(self):
        for link in self:
            link.display_name = (link.lead_id or link.partner_id).display_name

    @api.depends("partner_id")
    def _compute_context(self):
        for link in self:
            company = link.partner_id.commercial_partner_id
            link.company_id = company if company != link.partner_id else False

    def _target(self):
        self.ensure_one()
        return self.lead_id or self.partner_id

    # -- by hand (the web client) -------------------------------------------------------------
    @api.model
    def _add_links(self, messages, record, link_type="manual"):
        """Link ``messages`` to ``record`` (a contact, company, lead or deal) on behalf of the
        current user, who must be able to read the mail and to edit the record: the checks
        are made here, on the server, whatever the view shows."""
        if record._name not in ("res.partner", "crm.lead") or len(record) != 1:
            raise UserError(self.env._("Mail can be linked to contacts, companies and leads only."))
        messages.check_access("read")
        record.check_access("write")
        field = "lead_id" if record._name == "crm.lead" else "partner_id"
        existing = self.sudo().search([("message_id", "in", messages.ids), (field, "=", record.id)])
        todo = messages - existing.message_id
        links = self.sudo().create(
            [
                {
                    "message_id": m.id,
                    field: record.id,
                    "link_type": link_type,
                    "user_id": self.env.uid,
                }
                for m in todo
            ]
        )
        todo.sudo().write({"state": "linked", "needs_deal_choice": False})
        # many mails at once notify each record once (their newest), not once per mail
        self.env["mailbox.card.publisher"].sudo()._publish(links, history=False, notify_once=True)
        return links

    def action_remove(self):
        """Take these mails off their records: the chatter entry and a pending Email activity
        on that record go, the mail stays in its mailbox. Whoever may edit the record may
        remove a link, whoever set it."""
        self.check_access("read")
        for link in self:
            link._target().check_access("write")
        return self.sudo()._mcl_remove()

    def _mcl_remove(self):
        """Remove these links, the caller having checked who may (``action_remove``; the
        deletion of their record, ``mailbox.card.mixin.unlink``): their chatter entries and
        pending Email activities go, the removal goes into the mail's routing explanation
        ("Why here?", "Why not?": who took it off which record, and when), and a mail left
        on no record is "new" again, back in the triage queue if it is client mail. Called
        as superuser; the user named is the caller's."""
        links = self
        messages = links.message_id
        now = fields.Datetime.to_string(fields.Datetime.now())
        removed = {}
        for link in links:
            activity = link.message_id.activity_id
            target = link._target()
            if activity and (activity.res_model, activity.res_id) == (target._name, target.id):
                link.message_id.activity_id = False
                activity.unlink()
            removed.setdefault(link.message_id, []).append(
                {"record": [target._name, target.id], "user": self.env.uid, "date": now}
            )
        links.mail_message_id.unlink()
        links.unlink()
        for message in messages:  # one write per mail: its route, and its state if need be
            route = dict(message.route) if isinstance(message.route, dict) else {}
            earlier = route.get("removed", None)
            earlier = earlier if isinstance(earlier, list) else []
            route["removed"] = [*earlier, *removed.get(message, [])][-MAX_REMOVED:]
            vals = {"route": route}
            if not message.link_ids and message.state == "linked":
                vals["state"] = "new"
            message.write(vals)
        return True
