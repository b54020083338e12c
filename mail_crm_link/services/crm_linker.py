"""Step "link" of the pipeline: match stored mail to the CRM and apply the create policy.

Per mailbox in automatic mode, for a batch of stored mail:
  1. look up every correspondent address and every thread at once (indexed queries);
  2. per mail, in date order: thread links, address links, the create policy (records made by
     ``mailbox.record.factory``, one per new address whatever runs at once);
  3. write the new links and hand them to ``mailbox.card.publisher``;
  4. run the mailbox's server action on each mail.

Works inside the transaction it is given. A mail whose new address is being created by
another transaction is *deferred*: nothing of it is linked now, and the sync links it again in
a fresh transaction (``link_deferred``). Existing links are kept, so linking again (re-link)
adds only what is new: no duplicate link, chatter entry or activity.
"""

import json
import logging
from collections import defaultdict

import psycopg2.errors
from psycopg2.extras import execute_values

from odoo import api, fields, models

from ..mailflow import addresses, classify, explain, policy, threads
from .record_factory import AddressBusy

_logger = logging.getLogger(__name__)


class LinkBatch:
    """What one linking pass over a batch of one mailbox knows: lookups done once per batch
    (kept up to date as records are created) and the decisions made so far."""

    def __init__(self, env, mailbox, allow_create, history=False):
        self.env = env
        self.mailbox = mailbox
        self.allow_create = allow_create
        self.history = history
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
        self.correspondents = {}  # message id → {address: display name}
        self.deferred = env["mailbox.message"]
        self.notes = {}  # message id → explain.LinkNotes: the routing explanation's link part
        self.notified = {}  # message id → [explain.notified(...)], filled by the publisher


class MailboxCrmLinker(models.AbstractModel):
    _name = "mailbox.crm.linker"
    _description = "Mailbox Pipeline: Link Mail to the CRM"

    # -- entry points ----------------------------------------------------------------------
    @api.model
    def _link_safely(self, messages, history=None):
        """Link ``messages``; linking never costs the mail: if it fails, the mails stay
        stored, unlinked, with the reason, and "Re-link" tries again. Returns the mails
        deferred to a fresh transaction. ``history``: None follows each mail's own flag."""
        if not messages:
            return messages
        try:
            with self.env.cr.savepoint():
                return self._link(messages, history=history)
        except psycopg2.errors.SerializationFailure:
            # a record the batch touches was changed by another transaction: link these
            # mails again in a fresh one, as for a busy new address
            messages.write({"link_deferred": True})
            return messages
        except Exception as exc:
            if len(messages) > 1:  # one mail's failure must not cost the others their links
                deferred = messages.browse()
                for message in messages:
                    deferred |= self._link_safely(message, history=history)
                return deferred
            _logger.exception("mail_crm_link: linking failed for %s", messages)
            messages.write(
                {
                    "link_note": self.env._(
                        "Linking failed (internal error, see the server log): %s", exc
                    ),
                    "link_deferred": False,
                }
            )
            return messages.browse()

    @api.model
    def _link(self, messages, allow_create=True, run_hooks=True, history=None, route_part="link"):
        """Classify, match, apply the create policy, link and publish ``messages``.
        Returns the mails deferred (their new address is being created elsewhere)."""
        deferred = self.env["mailbox.message"]
        messages = messages.filtered(lambda m: m.state != "error" and m.mailbox_id)
        for mailbox in messages.mailbox_id:
            batch = messages.filtered(lambda m, mb=mailbox: m.mailbox_id == mb)
            if mailbox.crm_link_mode != "auto":
                batch.link_deferred = False
                self._write_routes(
                    {m.id: {route_part: {"mode": mailbox.crm_link_mode}} for m in batch}
                )
                continue
            for past in (True, False):  # a batch can hold both (deferred mail, re-link)
                part = batch.filtered(
                    lambda m, p=past: (m.history if history is None else history) == p
                )
                if part:
                    deferred |= self._link_mailbox(
                        mailbox, part, allow_create, run_hooks, past, route_part
                    )
        return deferred

    @api.model
    def _link_mailbox(self, mailbox, batch, allow_create, run_hooks, history, route_part="link"):
        with self.env["mailbox.record.factory"]._cron_triggers_once() as env:
            return self._link_mailbox_in(
                env, mailbox, batch, allow_create, run_hooks, history, route_part
            )

    @api.model
    def _link_mailbox_in(
        self, env, mailbox, batch, allow_create, run_hooks, history, route_part="link"
    ):
        if history:  # no "created" log nor assignment notice for each record of the past
            env = env(
                context=dict(
                    env.context, mail_create_nolog=True, mail_auto_subscribe_no_notify=True
                )
            )
        run = LinkBatch(env, mailbox, allow_create, history)
        run.route_part = route_part  # "relink": a Re-link keeps the first decision
        self.with_env(env)._prepare(run, batch)
        for message in batch.sorted(lambda m: (m.date or fields.Datetime.now(), m.id)):
            self.with_env(env)._link_one(run, message)
        new_links = self.with_env(env)._write_links(run)
        env["mailbox.card.publisher"]._publish(
            new_links, run.authors, history=history, notified=run.notified
        )
        self.with_env(env)._write_routes({i: {"notify": n} for i, n in run.notified.items()})
        if run_hooks and mailbox.server_action_id:
            for message in batch - run.deferred:
                mailbox.server_action_id.with_context(
                    active_model=message._name, active_id=message.id, active_ids=message.ids
                ).run()
        return run.deferred

    # -- lookups ---------------------------------------------------------------------------
    @api.model
    def _prepare(self, run, messages):
        addrs, refs = set(), set()
        for message in messages:
            for address in [*self._correspondents(run, message), message.sender]:
                addrs.update(addresses.lookup_forms(address, run.fold_plus))
            refs.update(threads.ancestors(message.in_reply_to, message.references))
        self._lookup(run, addrs)
        self._lookup_threads(run, refs)
        known = self.env["res.partner"].union(*run.partners.values())
        self._deals_of(run, known.filtered(lambda p: not p.is_company).commercial_partner_id)
        for link in messages.link_ids:
            run.existing.add((link.message_id.id, *_key(link._target())))

    @api.model
    def _lookup(self, run, forms):
        forms = [f for f in forms if f not in run.partners]
        if not forms:
            return
        found_partners = self.env["res.partner"]._mcl_find_by_addresses(forms)
        found_leads = self.env["crm.lead"]._mcl_find_by_addresses(forms)
        # who wrote a mail is a colleague's partner first (``_author``): the users of every
        # partner found, read in one query rather than one per mail
        self.env["res.partner"].union(*found_partners.values()).mapped("user_ids")
        for form in forms:
            run.partners[form] = found_partners.get(form, self.env["res.partner"])
            run.leads[form] = found_leads.get(form, self.env["crm.lead"])

    @api.model
    def _lookup_threads(self, run, refs):
        if not refs:
            return
        refs = list(refs)
        for link in self.env["mailbox.message.link"].search(
            [("message_id.message_id", "in", refs)]
        ):
            run.thread_targets[link.message_id.message_id].append(link._target())
        posted = self.env["mail.message"].search(
            [("message_id", "in", refs), ("model", "in", ("crm.lead", "res.partner"))]
        )
        for entry in posted:
            record = self.env[entry.model].browse(entry.res_id).exists()
            if record:
                run.thread_targets[entry.message_id].append(record)
        for model, res_id in threads.tokens(refs, run.secret):
            record = self.env[model].browse(res_id).exists()
            if record:
                for ref in refs:
                    if threads.read_token(ref, run.secret) == (model, res_id):
                        run.thread_targets[ref].append(record)

    @api.model
    def _find(self, run, address):
        forms = addresses.lookup_forms(address, run.fold_plus)
        self._lookup(run, forms)
        partners = self.env["res.partner"].union(*(run.partners[f] for f in forms))
        leads = self.env["crm.lead"].union(*(run.leads[f] for f in forms))
        return partners, leads

    @api.model
    def _author(self, run, message):
        """Who wrote ``message``: a colleague's partner first, else a contact, else a
        company with the sender's address (from the batch's lookups)."""
        partners = self._find(run, message.sender)[0] if message.sender else None
        if not partners:
            return self.env["res.partner"]
        return (
            partners.filtered(lambda p: p.user_ids)[:1]
            or partners.filtered(lambda p: not p.is_company)[:1]
            or partners[:1]
        )

    @api.model
    def _deals_of(self, run, clients):
        """Open deals of ``clients`` (commercial partners): one query per batch for all the
        clients met so far, then kept up to date as deals are created."""
        missing = [c.id for c in clients if c.id not in run.open_deals]
        if missing:
            found = self.env["crm.lead"]._mcl_open_deals_by_client(missing)
            for client_id in missing:
                run.open_deals[client_id] = found.get(client_id, [])
        return [deal for c in clients for deal in run.open_deals[c.id]]

    @api.model
    def _correspondents(self, run, message):
        """The client addresses of ``message`` (never-log ones left out), with their display
        names: ``{address: name}`` in order; parsed once per message."""
        if message.id not in run.correspondents:
            pairs = classify.client_side(
                message.direction,
                message.sender,
                message.email_from,
                message.email_to,
                message.email_cc,
                run.internal,
            )
            run.correspondents[message.id] = {
                a: n for n, a in pairs if not addresses.in_list(a, run.never_log)
            }
        return run.correspondents[message.id]

    # -- decisions -------------------------------------------------------------------------
    @api.model
    def _link_one(self, run, message):
        kind = message.mail_kind
        targets = {}
        notes = run.notes[message.id] = explain.LinkNotes("auto", run.history, run.allow_create)
        for ref in threads.ancestors(message.in_reply_to, message.references):
            found = run.thread_targets.get(ref, [])
            for record in found:
                targets.setdefault(record, "thread")
            if found:
                notes.thread(ref, [_key(r) for r in found])
        flags = {"needs_deal_choice": False, "note": False}
        try:
            if kind == classify.CLIENT:
                for address, name in self._correspondents(run, message).items():
                    self._link_address(run, message, address, name, targets, flags)
            elif kind != classify.AUTO_REPLY:  # auto-replies may only join their thread
                targets = {}
                notes.threads.clear()
        except AddressBusy:
            run.deferred |= message  # linked again, whole, in a fresh transaction
            return
        run.links[message.id] = targets
        run.flags[message.id] = flags
        run.authors[message.id] = self._author(run, message)
        if message.message_id and targets:  # a later mail of this batch may answer this one
            run.thread_targets[message.message_id].extend(targets)

    @api.model
    def _link_address(self, run, message, address, name, targets, flags):
        partners, leads = self._find(run, address)
        notes = run.notes[message.id]
        entry = notes.address(address)
        forms = set(addresses.lookup_forms(address, run.fold_plus))
        for partner in partners:
            targets.setdefault(partner, "address")
            how = explain.BY_ADDRESS if partner.email_normalized in forms else None
            notes.matched(entry, _key(partner), how or explain.BY_OTHER_ADDRESS)
            if partner.parent_id:
                targets.setdefault(partner.commercial_partner_id, "address")
                notes.matched(entry, _key(partner.commercial_partner_id), explain.BY_COMPANY)
        persons = partners.filtered(lambda p: not p.is_company)
        if persons:
            deal_ids, needs_choice = policy.deals_to_link(
                self._deals_of(run, persons.commercial_partner_id),
                run.mailbox.deal_link_mode,
            )
            for deal in self.env["crm.lead"].browse(deal_ids):
                targets.setdefault(deal, "address")
                notes.matched(entry, _key(deal), explain.BY_DEAL)
            flags["needs_deal_choice"] |= needs_choice
            notes.deals(run.mailbox.deal_link_mode, flags["needs_deal_choice"])
        for lead in leads:
            targets.setdefault(lead, "address")
            notes.matched(entry, _key(lead), explain.BY_LEAD)
        if not run.allow_create:
            notes.decided(entry, None, None, explain.NO_CREATE)
            return
        thread_linked = any(t == "thread" for t in targets.values())
        decision, why = self._decide_why(run, message, address, partners, leads, thread_linked)
        notes.decided(entry, decision, why, explain.DEFERRED if decision else explain.NOTHING)
        if not decision:
            return
        factory = self.env["mailbox.record.factory"]
        factory._claim(address)  # AddressBusy: another transaction creates it; defer
        created = factory._create_record(run.mailbox, message, address, name, decision, partners)
        if created is None:
            notes.decided(entry, decision, why, explain.LOOP_GUARD)
            flags["note"] = self.env._(
                "Nothing created: %(address)s sent more mail than the loop guard allows.",
                address=address,
            )
            return
        notes.decided(entry, decision, why, explain.CREATED, made=_key(created))
        self._remember_created(run, address, created)
        targets[created] = "policy"

    @api.model
    def _decide(self, run, message, address, partners, leads, thread_linked):
        """What the create policy makes for ``address`` (``policy.to_create``)."""
        return self._decide_why(run, message, address, partners, leads, thread_linked)[0]

    @api.model
    def _decide_why(self, run, message, address, partners, leads, thread_linked):
        """``_decide`` and the policy's case that decided it (``policy.to_create_why``)."""
        clients = partners.commercial_partner_id
        return policy.to_create_why(
            run.rules,
            message.direction,
            message.mail_kind,
            address,
            bool(partners or leads),
            bool(partners),
            thread_linked,
            bool(clients and self._deals_of(run, clients)),
        )

    @api.model
    def _remember_created(self, run, address, record):
        """Later mails of the batch from the same address find the new record."""
        for form in addresses.lookup_forms(address, run.fold_plus):
            if record._name == "crm.lead":
                run.leads[form] = run.leads.get(form, record.browse()) | record
            else:
                run.partners[form] = record
        if record._name == "res.partner" and record.commercial_partner_id == record:
            run.open_deals.setdefault(record.id, [])  # a new client has no deal yet
        if record._name == "crm.lead" and record.partner_id and record.type == "opportunity":
            deals = run.open_deals.setdefault(record.partner_id.commercial_partner_id.id, [])
            deals.append((record.id, record.write_date))

    # -- writing ---------------------------------------------------------------------------
    @api.model
    def _write_links(self, run):
        Message = self.env["mailbox.message"]
        vals_list = []
        updates = defaultdict(list)
        for message_id, targets in run.links.items():
            message = Message.browse(message_id)
            for record, link_type in targets.items():
                key = (message_id, *_key(record))
                if key in run.existing:
                    continue
                run.existing.add(key)
                field = "lead_id" if record._name == "crm.lead" else "partner_id"
                vals_list.append(
                    {"message_id": message_id, field: record.id, "link_type": link_type}
                )
            flags = run.flags[message_id]
            state = message.state
            if targets or message.link_ids:
                state = "linked"
            elif message.mail_kind != classify.CLIENT:
                state = "ignored"
            updates[(state, flags["needs_deal_choice"], flags["note"])].append(message_id)
        self._write_outcomes(run, updates)
        return self._insert_links(run.mailbox, vals_list)

    @api.model
    def _write_outcomes(self, run, updates):
        """Each mail's outcome (``updates``: ``{(state, needs deal choice, note): [ids]}``,
        and the mails deferred) with its routing explanation's link part. As superuser (the
        sync, the jobs) in one ``UPDATE ... FROM (VALUES ...)`` per thousand mails: each row
        is rewritten once, not once for the outcome and again for the explanation (issue 25:
        the second rewrite of every wide row was most of the explanation's cost). On behalf
        of a user, by the ORM."""
        Message = self.env["mailbox.message"]
        parts = self._routes(run)
        if not self.env.su:
            for (state, needs_choice, note), ids in updates.items():  # a write per outcome
                Message.browse(ids).write(
                    {
                        "state": state,
                        "needs_deal_choice": needs_choice,
                        "link_note": note,
                        "link_deferred": False,
                    }
                )
            if run.deferred:
                run.deferred.write({"link_deferred": True})
            self._write_routes(parts)
            return
        rows = [
            (message_id, state, needs_choice, note or None, False, json.dumps(parts[message_id]))
            for (state, needs_choice, note), ids in updates.items()
            for message_id in ids
        ]
        rows += [
            (m.id, m.state, m.needs_deal_choice, m.link_note or None, True, json.dumps(parts[m.id]))
            for m in run.deferred
        ]
        if not rows:
            return
        fnames = ["state", "needs_deal_choice", "link_note", "link_deferred", "route"]
        Message.flush_model(fnames)
        execute_values(
            self.env.cr._obj,
            "UPDATE mailbox_message AS m SET state = v.state, needs_deal_choice = v.choice,"
            " link_note = v.note, link_deferred = v.deferred,"
            " route = COALESCE(m.route, '{}'::jsonb) || v.part,"
            " write_uid = v.uid, write_date = now() AT TIME ZONE 'UTC'"
            " FROM (VALUES %s) AS v(id, state, choice, note, deferred, part, uid)"
            " WHERE m.id = v.id",
            [(*row, self.env.uid) for row in rows],
            template="(%s, %s, %s, %s::varchar, %s, %s::jsonb, %s)",
            page_size=1000,
        )
        records = Message.browse([row[0] for row in rows])
        records.invalidate_recordset([*fnames, "route_html", "write_uid", "write_date"])
        records.modified(fnames)

    @api.model
    def _routes(self, run):
        """``{message id: part}``: the link parts of the batch's routing explanations
        (``mailflow.explain``); the notify parts are written after the publish step."""
        deferred = set(run.deferred.ids)
        key = run.route_part
        routes = {}
        for message_id, notes in run.notes.items():
            routes[message_id] = {key: notes.finish(deferred=message_id in deferred)}
        for message in run.deferred - run.deferred.browse(list(run.notes)):
            routes[message.id] = {"link": {"mode": "auto", "deferred": True}}
        return routes

    @api.model
    def _write_routes(self, routes):
        """Merge ``{message id: part}`` into the mails' stored routing explanations in one
        statement per thousand mails (the explanation costs the import no UPDATE per mail).
        What is written is the pipeline's own notes, never a user's input."""
        if not routes:
            return
        Message = self.env["mailbox.message"]
        Message.flush_model(["route"])
        execute_values(
            self.env.cr._obj,
            # a route that is not an object (edited by hand into a list, JSON null) is
            # replaced, as the ORM write did: ``||`` would append to it
            "UPDATE mailbox_message AS m SET route = CASE WHEN jsonb_typeof(m.route) = 'object'"
            " THEN m.route ELSE '{}'::jsonb END || v.part"
            " FROM (VALUES %s) AS v(id, part) WHERE m.id = v.id",
            [(message_id, json.dumps(part)) for message_id, part in routes.items()],
            template="(%s, %s::jsonb)",
            page_size=1000,
        )
        Message.browse(list(routes)).invalidate_recordset(["route", "route_html"])

    @api.model
    def _insert_links(self, mailbox, vals_list):
        """The new links of ``mailbox``'s mails in one statement: the rows
        ``mailbox.message.link.create`` writes for the same values
        (``test_links_equal_orm_links`` keeps it so), without its per-row work (the stored
        mailbox written by a second UPDATE of every row, each record's cache and defaults).
        Done so for the sync and the jobs (superuser); on behalf of a user, by the ORM."""
        Link = self.env["mailbox.message.link"]
        if not vals_list:
            return Link
        if not self.env.su:  # on behalf of a user: the ORM checks their rights
            return Link.create(vals_list)
        now, uid = self.env.cr.now(), self.env.uid
        rows = [
            (
                vals["message_id"],
                vals.get("partner_id"),
                vals.get("lead_id"),
                vals["link_type"],
                uid,  # the field's default: who linked (the sync's user)
                mailbox.id,  # related to the mail's mailbox, stored
                uid,
                now,
                uid,
                now,
            )
            for vals in vals_list
        ]
        ids = [
            row[0]
            for row in execute_values(
                self.env.cr._obj,
                "INSERT INTO mailbox_message_link (message_id, partner_id, lead_id, link_type,"
                " user_id, mailbox_id, create_uid, create_date, write_uid, write_date)"
                " VALUES %s RETURNING id",
                rows,
                page_size=1000,
                fetch=True,
            )
        ]
        messages = self.env["mailbox.message"].browse({vals["message_id"] for vals in vals_list})
        messages.invalidate_recordset(["link_ids", "link_count"])
        self.env["res.partner"].invalidate_model(["mcl_link_ids"])
        self.env["crm.lead"].invalidate_model(["mcl_link_ids"])
        return Link.browse(ids)


def _key(record):
    return record._name, record.id
