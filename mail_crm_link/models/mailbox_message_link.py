import logging
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..mailflow import addresses, classify, policy, threads

_logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(namespace, hashtext(address)): one creation per new address at a
# time, across workers, until the batch commits ("MCM" in ASCII).
ADDRESS_LOCK_NAMESPACE = 0x4D434D

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
        "mail.message", string="Chatter Entry", ondelete="set null", readonly=True
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

    _sql_constraints = [
        (
            "one_target",
            "CHECK((partner_id IS NULL) != (lead_id IS NULL))",
            "A link points to exactly one contact or one lead.",
        ),
        ("partner_uniq", "unique(message_id, partner_id)", "This mail is already on the contact."),
        ("lead_uniq", "unique(message_id, lead_id)", "This mail is already on the lead."),
    ]

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

    # -- the engine ---------------------------------------------------------------------------
    @api.model
    def _link_messages(self, messages, allow_create=True, run_hooks=True, history=False):
        """Classify, match, apply the create policy, link and publish ``messages``.

        ``history``: the mail comes from the initial import of a mailbox. It is linked and
        shown in the chatter like any mail, but as the past it is: nobody is notified and no
        Email activity is created (an import of months of mail must not flood inboxes).

        Table of contents, per mailbox in automatic mode:
          1. look up every correspondent address and every thread at once (indexed queries);
          2. per mail, in date order: thread links, address links, the create policy;
          3. write the new links, then publish them: chatter entries, one Email activity per
             incoming mail, notifications;
          4. run the mailbox's server action on each mail.

        Already existing links are kept as they are, so running it again (re-link) adds only
        what is new: no duplicate link, chatter entry or activity.
        """
        messages = messages.filtered(lambda m: m.state != "error" and m.mailbox_id)
        for mailbox in messages.mailbox_id:
            batch = messages.filtered(lambda m, mb=mailbox: m.mailbox_id == mb)
            if mailbox.crm_link_mode != "auto":
                continue
            env = self.env
            if history:  # no "created" log nor assignment notice for each record of the past
                env = env(
                    context=dict(
                        env.context, mail_create_nolog=True, mail_auto_subscribe_no_notify=True
                    )
                )
            run = _LinkRun(env, mailbox, allow_create)
            run.prepare(batch)
            for message in batch.sorted(lambda m: (m.date or fields.Datetime.now(), m.id)):
                run.link(message)
            new_links = run.write_links()
            if history:
                self._publish_history(new_links, run.authors)
            else:
                self._publish(new_links, run.authors)
                self.env["mailbox.message"]._mcl_schedule_activities(new_links.message_id)
            if run_hooks and mailbox.server_action_id:
                for message in batch:
                    mailbox.server_action_id.with_context(
                        active_model=message._name, active_id=message.id, active_ids=message.ids
                    ).run()
        return True

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
        self.sudo()._publish(links)
        self.env["mailbox.message"].sudo()._mcl_schedule_activities(todo.sudo())
        return links

    def action_remove(self):
        """Take these mails off their records: the chatter entry and a pending Email activity
        on that record go, the mail stays in its mailbox. Whoever may edit the record may
        remove a link, whoever set it."""
        self.check_access("read")
        for link in self:
            link._target().check_access("write")
        links = self.sudo()
        messages = links.message_id
        for link in links:
            activity = link.message_id.activity_id
            target = link._target()
            if activity and (activity.res_model, activity.res_id) == (target._name, target.id):
                link.message_id.activity_id = False
                activity.unlink()
        links.mail_message_id.unlink()
        links.unlink()
        messages.filtered(lambda m: not m.link_ids and m.state == "linked").write({"state": "new"})
        return True

    def _publish_history(self, links, authors=None):
        """Chatter entries of imported history, created in one batch without notifications
        (``message_post`` would notify followers of each one)."""
        if not links:
            return
        authors = authors or {}
        comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        vals_list = []
        for link in links:
            message = link.message_id
            target = link._target()
            author = authors.get(message.id)
            if author is None:
                author = message._mcl_author()
            vals_list.append(
                {
                    "model": target._name,
                    "res_id": target.id,
                    "record_name": target.display_name,
                    "body": Markup(message.body_html or ""),
                    "subject": message.subject or False,
                    "message_type": "email",
                    "subtype_id": comment,
                    "email_from": message.email_from or False,
                    "reply_to": message.reply_to or message.email_from or False,
                    "author_id": author.id or False,
                    "message_id": message.message_id or False,
                    "date": message.date,
                    "attachment_ids": [Command.set(message.attachment_ids.ids)],
                    "mcl_message_id": message.id,
                }
            )
        entries = self.env["mail.message"].sudo().create(vals_list)
        for link, entry in zip(links, entries, strict=True):
            link.mail_message_id = entry

    def _publish(self, links, authors=None):
        """Each new link shows its mail in the record's chatter, as an email with its
        attachments. Internal followers are notified as Odoo notifies them; nothing is sent
        to clients (``mail_crm_link_publish``, see ``drop_external_recipients``)."""
        authors = authors or {}
        for link in links:
            message = link.message_id
            author = authors.get(message.id)
            if author is None:
                author = message._mcl_author()
            record = link._target().with_context(
                mail_crm_link_publish=True,
                mail_create_nosubscribe=True,
                mail_post_autofollow=False,
                mail_notify_force_send=False,
            )
            entry = record.message_post(
                body=Markup(message.body_html or ""),  # sanitized when stored
                subject=message.subject or False,
                message_type="email",
                subtype_xmlid="mail.mt_comment",
                email_from=message.email_from or False,
                author_id=author.id or False,
                attachment_ids=message.attachment_ids.ids,
                message_id=message.message_id or False,
                date=message.date,
            )
            entry.sudo().mcl_message_id = message  # its visibility now follows the mail's
            link.mail_message_id = entry


def drop_external_recipients(env, recipients):
    """Recipients of a chatter entry published from a mailbox: internal users only."""
    if env.context.get("mail_crm_link_publish"):
        return [r for r in recipients if not r.get("share")]
    return recipients


class _LinkRun:
    """One linking pass over a batch of one mailbox: the caches and the decisions.

    Lookups are done once per batch and updated as records are created, so that two mails
    from one new address in one batch create one record; across workers, an advisory lock on
    the address does the same.
    """

    def __init__(self, env, mailbox, allow_create):
        self.env = env
        self.mailbox = mailbox
        self.allow_create = allow_create
        self.internal = mailbox._internal_set()
        self.never_log = mailbox._mcl_never_log_set()
        self.rules = mailbox._mcl_policy()
        self.fold_plus = mailbox.fold_plus
        self.secret = env["ir.config_parameter"].sudo().get_param("database.secret") or ""
        self.partners = {}  # lookup form → res.partner
        self.leads = {}  # lookup form → crm.lead
        self.thread_targets = defaultdict(list)  # Message-ID → [records]
        self.links = {}  # message id → {record: link type}
        self.existing = set()  # (message id, model, id)
        self.flags = {}  # message id → {"needs_deal_choice": bool, "note": str}
        self.authors = {}  # message id → res.partner who wrote it (maybe empty)
        self.open_deals = {}  # commercial partner id → [(deal id, last update)]
        self._correspondents = {}  # message id → {address: display name}

    # -- lookups --------------------------------------------------------------------------
    def prepare(self, messages):
        addrs = set()
        refs = set()
        for message in messages:
            for address in [*self.correspondents(message), message.sender]:
                addrs.update(addresses.lookup_forms(address, self.fold_plus))
            refs.update(threads.ancestors(message.in_reply_to, message.references))
        self._lookup(addrs)
        self._lookup_threads(refs)
        for link in messages.link_ids:
            self.existing.add((link.message_id.id, *_key(link._target())))

    def _lookup(self, forms):
        forms = [f for f in forms if f not in self.partners]
        if not forms:
            return
        found_partners = self.env["res.partner"]._mcl_find_by_addresses(forms)
        found_leads = self.env["crm.lead"]._mcl_find_by_addresses(forms)
        for form in forms:
            self.partners[form] = found_partners.get(form, self.env["res.partner"])
            self.leads[form] = found_leads.get(form, self.env["crm.lead"])

    def _lookup_threads(self, refs):
        if not refs:
            return
        refs = list(refs)
        Link = self.env["mailbox.message.link"]
        for link in Link.search([("message_id.message_id", "in", refs)]):
            self.thread_targets[link.message_id.message_id].append(link._target())
        posted = self.env["mail.message"].search(
            [("message_id", "in", refs), ("model", "in", ("crm.lead", "res.partner"))]
        )
        for entry in posted:
            record = self.env[entry.model].browse(entry.res_id).exists()
            if record:
                self.thread_targets[entry.message_id].append(record)
        for model, res_id in threads.tokens(refs, self.secret):
            record = self.env[model].browse(res_id).exists()
            if record:
                for ref in refs:
                    if threads.read_token(ref, self.secret) == (model, res_id):
                        self.thread_targets[ref].append(record)

    def author(self, message):
        """Who wrote ``message``: a colleague's partner first, else a contact, else a
        company with the sender's address (from the batch's lookups)."""
        partners, _leads = self.find(message.sender) if message.sender else (None, None)
        if not partners:
            return self.env["res.partner"]
        return (
            partners.filtered(lambda p: p.user_ids)[:1]
            or partners.filtered(lambda p: not p.is_company)[:1]
            or partners[:1]
        )

    def deals_of(self, clients):
        """Open deals of ``clients`` (commercial partners): one query per batch for all the
        clients met so far, then kept up to date as deals are created."""
        missing = [c.id for c in clients if c.id not in self.open_deals]
        if missing:
            found = self.env["crm.lead"]._mcl_open_deals_by_client(missing)
            for client_id in missing:
                self.open_deals[client_id] = found.get(client_id, [])
        return [deal for c in clients for deal in self.open_deals[c.id]]

    def correspondents(self, message):
        """The client addresses of ``message`` (never-log ones left out), with their display
        names: ``{address: name}`` in order; parsed once per message."""
        if message.id not in self._correspondents:
            pairs = classify.client_side(
                message.direction,
                message.sender,
                message.email_from,
                message.email_to,
                message.email_cc,
                self.internal,
            )
            self._correspondents[message.id] = {
                a: n for n, a in pairs if not addresses.in_list(a, self.never_log)
            }
        return self._correspondents[message.id]

    def find(self, address):
        forms = addresses.lookup_forms(address, self.fold_plus)
        self._lookup(forms)
        partners = self.env["res.partner"].union(*(self.partners[f] for f in forms))
        leads = self.env["crm.lead"].union(*(self.leads[f] for f in forms))
        return partners, leads

    # -- decisions ------------------------------------------------------------------------
    def link(self, message):
        kind = message.mail_kind
        targets = {}
        for ref in threads.ancestors(message.in_reply_to, message.references):
            for record in self.thread_targets.get(ref, []):
                targets.setdefault(record, "thread")
        flags = {"needs_deal_choice": False, "note": False}
        if kind == classify.CLIENT:
            for address, name in self.correspondents(message).items():
                self._link_address(message, address, name, targets, flags)
        elif kind != classify.AUTO_REPLY:  # auto-replies may only join their thread
            targets = {}
        self.links[message.id] = targets
        self.flags[message.id] = flags
        self.authors[message.id] = self.author(message)
        if message.message_id and targets:  # a later mail of this batch may answer this one
            self.thread_targets[message.message_id].extend(targets)

    def _link_address(self, message, address, name, targets, flags):
        partners, leads = self.find(address)
        for partner in partners:
            targets.setdefault(partner, "address")
            if partner.parent_id:
                targets.setdefault(partner.commercial_partner_id, "address")
        persons = partners.filtered(lambda p: not p.is_company)
        if persons:
            deal_ids, needs_choice = policy.deals_to_link(
                self.deals_of(persons.commercial_partner_id),
                self.mailbox.deal_link_mode,
            )
            for deal in self.env["crm.lead"].browse(deal_ids):
                targets.setdefault(deal, "address")
            flags["needs_deal_choice"] |= needs_choice
        for lead in leads:
            targets.setdefault(lead, "address")
        if not self.allow_create:
            return
        thread_linked = any(t == "thread" for t in targets.values())
        decision = self._decide(message, address, partners, leads, thread_linked)
        if not decision:
            return
        # one creation per new address, even with several workers: take the address's lock,
        # then look again (another worker may have created it while we waited)
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADDRESS_LOCK_NAMESPACE, address]
        )
        for form in addresses.lookup_forms(address, self.fold_plus):
            self.partners.pop(form, None)
        partners, leads = self.find(address)
        if self._decide(message, address, partners, leads, thread_linked) != decision:
            return
        created = self._create(message, address, name, decision, partners, flags)
        if created:
            targets[created] = "policy"

    def _decide(self, message, address, partners, leads, thread_linked):
        clients = partners.commercial_partner_id
        return policy.to_create(
            self.rules,
            message.direction,
            message.mail_kind,
            address,
            bool(partners or leads),
            bool(partners),
            thread_linked,
            bool(clients and self.deals_of(clients)),
        )

    def _create(self, message, address, name, decision, partners, flags):
        mailbox = self.mailbox
        forms = addresses.lookup_forms(address, self.fold_plus)
        if decision in (policy.LEAD, policy.OPPORTUNITY):
            if self._loop_blocked(forms):
                flags["note"] = self.env._(
                    "Nothing created: %(address)s sent more mail than the loop guard allows.",
                    address=address,
                )
                return None
            client = partners.filtered(lambda p: not p.is_company)[:1] or partners[:1]
            record = self.env["crm.lead"].create(
                {
                    "name": policy.clean_subject(message.subject)
                    or self.env._("Email from %s", name or address),
                    "type": decision,
                    "partner_id": client.id or False,
                    "email_from": client.email if client else address,
                    "contact_name": False if client else (name or False),
                    "user_id": mailbox._mcl_responsible(message, decision, client).id or False,
                    "team_id": mailbox.team_id.id or False,
                    "source_id": mailbox.source_id.id or False,
                    "medium_id": self.env.ref("utm.utm_medium_email").id,
                }
            )
            for form in forms:
                self.leads[form] = self.leads.get(form, record.browse()) | record
            if client and record.type == "opportunity":  # the client has an open deal now
                deals = self.open_deals.setdefault(client.commercial_partner_id.id, [])
                deals.append((record.id, record.write_date))
            return record
        record = self.env["res.partner"].create(
            {
                **policy.partner_values(decision, name, address),
                "user_id": mailbox._mcl_responsible(message, decision, False).id or False,
            }
        )
        for form in forms:
            self.partners[form] = record
        return record

    def _loop_blocked(self, forms):
        param = self.env["ir.config_parameter"].sudo().get_param
        minutes = int(param("mail.gateway.loop.minutes", 120))
        threshold = int(param("mail.gateway.loop.threshold", 20))
        since = self.env.cr.now() - timedelta(minutes=minutes)
        recent = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search_count(
                [
                    ("email_normalized", "in", forms),
                    ("create_date", ">", since),
                ]
            )
        )
        return policy.loop_blocked(recent, threshold)

    # -- writing --------------------------------------------------------------------------
    def write_links(self):
        Link = self.env["mailbox.message.link"]
        vals_list = []
        updates = defaultdict(list)
        Message = self.env["mailbox.message"]
        for message_id, targets in self.links.items():
            message = Message.browse(message_id)
            for record, link_type in targets.items():
                key = (message_id, *_key(record))
                if key in self.existing:
                    continue
                self.existing.add(key)
                field = "lead_id" if record._name == "crm.lead" else "partner_id"
                vals_list.append(
                    {"message_id": message_id, field: record.id, "link_type": link_type}
                )
            flags = self.flags[message_id]
            state = message.state
            if targets or message.link_ids:
                state = "linked"
            elif message.mail_kind != classify.CLIENT:
                state = "ignored"
            updates[(state, flags["needs_deal_choice"], flags["note"])].append(message_id)
        for (state, needs_choice, note), ids in updates.items():  # a write per outcome
            Message.browse(ids).write(
                {"state": state, "needs_deal_choice": needs_choice, "link_note": note}
            )
        return Link.create(vals_list)


def _key(record):
    return record._name, record.id
