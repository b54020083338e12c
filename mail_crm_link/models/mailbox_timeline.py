from odoo import api, fields, models
from odoo.exceptions import UserError

from ..mailflow import addresses, classify

TIMELINE_MODELS = {"crm.lead": "lead_id", "res.partner": "partner_id"}
TIMELINE_PAGE = 20  # mails per page by default (the panel asks for this many)
TIMELINE_MAX = 200  # mails per call at most, whatever the caller asks: the panel pages


class MailboxTimeline(models.AbstractModel):
    """The email timeline panel of a CRM card (``mail_crm_link.EmailTimeline``): the card's
    mail, newest first, as plain values for the web client.

    Everything is read as the user: the card, the related contacts and deals of a company,
    the mail (record rules of mail and links: private mail, strict visibility, own
    documents), the attachments. Nothing chosen by the browser is read with sudo."""

    _name = "mailbox.timeline"
    _description = "Email Timeline of a CRM Card"

    @api.model
    def read_timeline(self, res_model, res_id, limit=TIMELINE_PAGE, offset=0):
        """``{"total": n, "mails": [{...}, ...]}``: the mail of the card ``res_model`` /
        ``res_id``, newest first: a lead's; a person's and their deals'; a company's, its
        people's and their deals'. ``limit`` is kept between 1 and ``TIMELINE_MAX`` (200;
        no limit, or a wrong one, gives a page of 20), ``offset`` at 0 or more: one call is
        one bounded page."""
        limit, offset = _page(limit, offset)
        if res_model not in TIMELINE_MODELS:
            raise UserError(self.env._("Mail is shown on contacts, companies and leads."))
        record = self.env[res_model].browse(int(res_id)).exists()
        if not record:
            return {"total": 0, "mails": []}
        record.check_access("read")
        Message = self.env["mailbox.message"]
        if not Message.has_access("read"):
            return {"total": 0, "mails": []}
        domain = self._domain(record)
        total = Message.search_count(domain)
        messages = Message.search(domain, limit=limit, offset=offset, order="date desc, id desc")
        # the page's explanations worded at once (a few queries, whatever the page's size)
        whys = self.env["mailbox.route.explainer"]._lines_of(messages)
        return {
            "total": total,
            "mails": [self._values(m, record, whys.get(m.id, [])) for m in messages],
        }

    @api.model
    def _domain(self, record):
        if record._name == "crm.lead":
            return [("link_ids.lead_id", "=", record.id)]
        partners, leads = self._card_records(record)
        return [
            "|",
            ("link_ids.partner_id", "in", partners.ids),
            ("link_ids.lead_id", "in", leads.ids),
        ]

    @api.model
    def _card_records(self, record):
        """``(partners, leads)`` whose mail the card ``record`` shows: a lead itself; a
        person and their deals; a company, its people and their deals."""
        if record._name == "crm.lead":
            return self.env["res.partner"], record
        partners = record
        if record.is_company:  # its people, and the deals of the company and its people
            partners |= self.env["res.partner"].search([("parent_id", "child_of", record.id)])
        return partners, self.env["crm.lead"].search([("partner_id", "in", partners.ids)])

    @api.model
    def _values(self, message, record, why=None):
        field = TIMELINE_MODELS[record._name]
        links = message.link_ids  # the links the user may read (their record rules)
        targets = [link._target() for link in links]
        shown = [t for t in targets if t._filtered_access("read")]
        on_card = any(getattr(link, field) == record for link in links)
        return {
            "id": message.id,
            "subject": message.subject or "",
            "date": fields.Datetime.to_string(message.date),
            "direction": message.direction or classify.INCOMING,
            "from": self._names(message.email_from),
            "to": self._names(message.email_to, message.email_cc),
            "author": message.send_user_id.name or False,
            "state": self._state(message),
            "damaged": message.damaged,
            "open_count": message.open_count if message.sudo().open_token else False,
            "body": message.body_html or "",
            "text": "" if message.body_html else (message.body_text or ""),
            "preview": (message.body_text or "").strip()[:160],
            "attachments": [
                {"id": a.id, "name": a.name, "mimetype": a.mimetype, "size": a.file_size}
                for a in message.attachment_ids
            ],
            "records": [
                {"model": t._name, "id": t.id, "name": t.display_name} for t in shown if t != record
            ],
            "can_reply": message.mailbox_id.sudo().crm_link_mode != "off",
            "can_process": self._can_process(message),
            "can_remove": on_card and record.has_access("write"),
            "why": (self.env["mailbox.route.explainer"]._lines(message) if why is None else why),
        }

    @api.model
    def _names(self, *headers):
        """ "Giulia Rossi, marco.b@client.example": names where the header has them."""
        found = addresses.parse_list([h or "" for h in headers])
        return ", ".join(name or address for name, address in found)

    @api.model
    def _state(self, message):
        if message.send_state in ("queued", "sending"):
            return "queued"
        if message.send_state in ("sent", "failed"):
            return message.send_state
        if message.pending:
            return "pending"
        if message.processed:
            return "processed"
        return False

    @api.model
    def _can_process(self, message):
        """Mark Processed is offered to whom Odoo lets mark its Email activity done: the
        assigned user, or who may edit the record it is on."""
        if not message.pending:
            return False
        activity = message.sudo().activity_id
        if activity.user_id == self.env.user:
            return True
        return self.env[activity.res_model].browse(activity.res_id).has_access("write")


def _page(limit, offset):
    """``(limit, offset)`` as integers in range, from whatever the web client sent."""
    try:
        limit = int(limit) if limit else TIMELINE_PAGE
    except (TypeError, ValueError):
        limit = TIMELINE_PAGE
    try:
        offset = max(int(offset or 0), 0)
    except (TypeError, ValueError):
        offset = 0
    return (min(limit, TIMELINE_MAX) if limit > 0 else TIMELINE_PAGE), offset
