import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import compat
from ..mailflow import explain

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

    def _mcl_remove(self, deleted=False):
        """Remove these links, the caller having checked who may (``action_remove``; the
        deletion of their record, ``mailbox.card.mixin.unlink``, ``deleted``): their chatter
        entries and pending Email activities go, the removal goes into the mail's routing
        explanation ("Why here?", "Why not?": who took it off which record, and when), and a
        mail left on no record is "new" again, back in the triage queue if it is client mail.
        Called as superuser; the user named is the caller's. The cost does not grow per mail
        in statements: a record deleted with thousands of mails writes their routes in one
        statement per thousand and their state in one write."""
        links = self
        # prefetched among themselves: once the links are gone, a prefetch through them
        # would read each mail on its own
        messages = links.message_id.with_prefetch()
        now = fields.Datetime.to_string(fields.Datetime.now())
        removed, activities, cleared = {}, self.env["mail.activity"], messages.browse()
        for link in links:
            message = link.message_id
            activity = message.activity_id
            target = link._target()
            if activity and (activity.res_model, activity.res_id) == (target._name, target.id):
                activities |= activity
                cleared |= message
            removed.setdefault(message.id, []).append(
                explain.removed((target._name, target.id), self.env.uid, now, deleted)
            )
        if cleared:
            cleared.write({"activity_id": False})
        activities.unlink()
        links.mail_message_id.unlink()
        links.unlink()
        routes = {}
        for message in messages:
            earlier = message.route.get("removed") if isinstance(message.route, dict) else None
            earlier = earlier if isinstance(earlier, list) else []
            routes[message.id] = {"removed": [*earlier, *removed[message.id]][-MAX_REMOVED:]}
        self.env["mailbox.crm.linker"]._write_routes(routes)
        messages.filtered(lambda m: not m.link_ids and m.state == "linked").write({"state": "new"})
        return True
