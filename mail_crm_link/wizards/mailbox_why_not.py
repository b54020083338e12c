from datetime import timedelta

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..mailflow import addresses, explain

WHY_NOT_DAYS = 180  # "recent mail": the last six months
WHY_NOT_LIMIT = 100  # mails examined at most, newest first


class MailboxWhyNot(models.TransientModel):
    """ "Why not?" on a contact, company, lead or deal: the recent mail from or to the card's
    addresses that is not on the card (or not for everybody), each with the reason and the
    action that would put it there.

    Everything is read as the user: the card (read access checked), the mail (record rules:
    a colleague's private mail, a mailbox the user does not use, is not listed, only said to
    exist in general), the links. The search is bounded: the last ``WHY_NOT_DAYS`` days, at
    most ``WHY_NOT_LIMIT`` mails."""

    _name = "mailbox.why.not"
    _description = "Why Is This Mail Not on the Card?"

    res_model = fields.Selection(
        [("res.partner", "Contact or Company"), ("crm.lead", "Lead or Deal")], required=True
    )
    res_id = fields.Integer(required=True)
    line_ids = fields.One2many("mailbox.why.not.line", "wizard_id", string="Mail")
    note_html = fields.Html(compute="_compute_note_html", sanitize=False)
    addresses = fields.Char(string="Addresses Looked For", readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        """The card only: what is listed is found by ``_mcl_fill``, never given."""
        return super().create(
            [
                {key: vals[key] for key in ("res_model", "res_id") if key in vals}
                for vals in vals_list
            ]
        )

    def write(self, vals):
        return super().write({key: vals[key] for key in ("res_model", "res_id") if key in vals})

    @api.model
    def _mcl_open(self, record):
        """The wizard of the card ``record`` (read as the user), filled in."""
        record.ensure_one()
        record.check_access("read")
        wizard = self.create({"res_model": record._name, "res_id": record.id})
        wizard._mcl_fill()
        return wizard._mcl_action()

    def _mcl_card(self):
        self.ensure_one()
        if self.res_model not in ("res.partner", "crm.lead"):
            raise UserError(self.env._("Mail is shown on contacts, companies and leads."))
        record = self.env[self.res_model].browse(self.res_id).exists()
        if not record:
            raise UserError(self.env._("This record no longer exists."))
        record.check_access("read")
        return record

    def _mcl_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Why not on %s?", self._mcl_card().display_name),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    # -- what is looked for --------------------------------------------------------------------
    def _mcl_addresses(self, record):
        """The card's addresses: a contact's (and its other addresses), a company's and its
        people's, a lead's and its contact's."""
        partners = self.env["res.partner"]
        found = []
        if record._name == "crm.lead":
            found.append(record.email_normalized)
            partners = record.partner_id
        else:
            partners = record
            if record.is_company:
                partners |= self.env["res.partner"].search([("parent_id", "child_of", record.id)])
        for partner in partners:
            found.append(partner.email_normalized)
            found.extend(partner.extra_email_ids.mapped("email_normalized"))
        return sorted({addresses.normalize(a) for a in found if a})

    def _mcl_domain(self, found):
        domain = []
        for address in found:
            one = ["|", "|", ("sender", "=", address)]
            one += [("email_to", "ilike", address), ("email_cc", "ilike", address)]
            domain = ["|", *domain, *one] if domain else one
        since = fields.Datetime.now() - timedelta(days=WHY_NOT_DAYS)
        return ["&", "|", ("date", ">=", since), ("date", "=", False), *domain]

    def _mcl_fill(self):
        """List the mail (as the user) with its reason."""
        self.ensure_one()
        record = self._mcl_card()
        found = self._mcl_addresses(record)
        # past this model's own write, which keeps only the card
        models.TransientModel.write(self, {"addresses": ", ".join(found)})
        self.line_ids.unlink()
        if not found or not self.env["mailbox.message"].has_access("read"):
            return
        Message = self.env["mailbox.message"]
        messages = Message.search(
            self._mcl_domain(found), limit=WHY_NOT_LIMIT, order="date desc, id desc"
        )
        wanted = set(found)  # "ilike" found candidates: keep the exact addresses only
        messages = messages.filtered(
            lambda m: (
                addresses.normalize(m.sender or "") in wanted
                or any(
                    addresses.normalize(a) in wanted
                    for _n, a in addresses.parse_list([m.email_to or "", m.email_cc or ""])
                )
            )
        )
        Line = self.env["mailbox.why.not.line"]
        Line.create([{"wizard_id": self.id, "message_id": m.id} for m in messages])

    def _mcl_judge(self, lines):
        """Each line's reason, detail and action, found here from its mail and the card
        (never taken from the caller); a line whose mail is on the card for everybody goes."""
        self.ensure_one()
        record = self._mcl_card()
        messages = lines.message_id
        on_card = self.env["mailbox.message"].search(
            [("id", "in", messages.ids), *self.env["mailbox.timeline"]._domain(record)]
        )
        may_link = record.has_access("write")
        partners, leads = self.env["mailbox.timeline"]._card_records(record)
        card = {("res.partner", i) for i in partners.ids} | {("crm.lead", i) for i in leads.ids}
        judged, done = [], lines.browse()
        for line in lines:
            message = line.message_id
            mailbox = message.sudo().mailbox_id  # the mail's own mailbox (read mail only)
            removal = self._mcl_removal(message, card)
            reason = explain.why_not(
                message.state,
                message.mail_kind,
                message in on_card,
                bool(message.link_ids),
                mailbox.crm_link_mode,
                message.link_deferred,
                message.private,
                mailbox.strict_visibility,
                removed=removal,
            )
            if reason:
                judged.append((line, reason, removal))
            else:
                done |= line
        # the users and records the details name, read once for the page
        refs = set()
        for line, reason, removal in judged:
            if reason == explain.NOT_REMOVED:
                refs.add(("res.users", removal[1]))
            elif reason == explain.NOT_ELSEWHERE:
                refs |= {(t._name, t.id) for t in (li._target() for li in line.message_id.link_ids)}
        explainer = self.env["mailbox.route.explainer"]
        names = explainer._names_of(sorted(refs))
        words = {"nothing": self.env._("nothing")}
        for line, reason, removal in judged:
            detail = self._mcl_detail(line.message_id, reason, removal, names, words)
            line._mcl_set(
                {
                    "reason": reason,
                    "detail": detail[:500],
                    "can_link": explain.can_link_here(reason) and may_link,
                }
            )
        done.unlink()

    def _mcl_removal(self, message, card):
        """The last removal by hand of ``message`` from the card (``card``: the ``(model, id)``
        records the card shows), as ``(record key, user id, date)``, or None."""
        found = [r for r in explain.removals(message.route) if r[0] in card]
        return found[-1] if found else None

    def _mcl_detail(self, message, reason, removal, names, words):
        """The line's detail in the reader's words; ``names``: the records it may name
        (``mailbox.route.explainer._names_of``)."""
        explainer = self.env["mailbox.route.explainer"]
        if reason == explain.NOT_ERROR:
            return message.error_reason or ""
        if reason == explain.NOT_REMOVED:  # by whom and when
            _record, user_id, date = removal
            user = explainer._join([("res.users", user_id)], names, words)
            return ", ".join(part for part in (user, explainer._when(date)) if part)
        if reason == explain.NOT_ELSEWHERE:
            targets = [(t._name, t.id) for t in (li._target() for li in message.link_ids)]
            return explainer._join(targets, names, words)
        store = (message.route or {}).get("store") if isinstance(message.route, dict) else None
        kind = (store or {}).get("kind") or []
        return str(kind[2]) if len(kind) == 3 and kind[2] else ""

    @api.depends("res_model", "res_id", "line_ids")
    def _compute_note_html(self):
        for wizard in self:
            notes = [
                self.env._(
                    "Looked for: mail of the last %(days)s days (at most %(count)s) from or to "
                    "%(addresses)s.",
                    days=WHY_NOT_DAYS,
                    count=WHY_NOT_LIMIT,
                    addresses=wizard.addresses or self.env._("no address"),
                )
            ]
            if not wizard.addresses:
                notes.append(self.env._("This card has no email address: no mail can match it."))
            for mailbox in wizard.line_ids.message_id.sudo().mailbox_id | self._mcl_own_mailboxes():
                if mailbox.import_window == "days":
                    notes.append(
                        self.env._(
                            "%(mailbox)s imported only the last %(days)s days at its first "
                            "synchronization: older mail is not in the CRM (outside the import "
                            "window).",
                            mailbox=mailbox.name,
                            days=mailbox.import_days,
                        )
                    )
            notes.append(
                self.env._(
                    "Mail you may not read is not listed: a colleague's private mail, mail of "
                    "mailboxes you do not use, mail on records you may not read."
                )
            )
            wizard.note_html = Markup("<ul class='mb-0'>%s</ul>") % Markup().join(
                Markup("<li>%s</li>") % escape(note) for note in notes
            )

    def _mcl_own_mailboxes(self):
        """The user's own mailboxes (their import window applies to what they see)."""
        return self.env["fetchmail.server"].sudo().search([("owner_id", "=", self.env.uid)])

    def action_refresh(self):
        self.ensure_one()
        self._mcl_fill()
        return self._mcl_action()
