"""Step "create" of the pipeline: the leads, deals, contacts and companies the create policy
makes, with their values, responsible and loop guard; and the claim that makes one record per
new address, whatever runs at once.

Odoo's cursors are REPEATABLE READ: a worker that waited for another one's lock still does not
see what the other committed (its snapshot is older), so "wait, then look again" creates
duplicates. Instead, as OCA ``connector`` does, a worker *claims* the address without waiting:
``pg_try_advisory_xact_lock``, then an upsert of the address's claim row, which PostgreSQL
refuses with a serialization failure when another transaction claimed it after our snapshot
was taken. A worker that cannot claim raises ``AddressBusy``: the linker defers that mail to a
fresh transaction, where the other worker's record is visible.
"""

import contextlib
import logging
from datetime import timedelta

import psycopg2.errors

from odoo import api, models

from ..mailflow import addresses, classify, policy

_logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(namespace, hashtext(address)): "MCM" in ASCII
ADDRESS_LOCK_NAMESPACE = 0x4D434D
# context key: the ``CronWakeups`` of a linking batch (``cron_triggers_once``)
GATHER_KEY = "mail_crm_link_cron_triggers"


class CronWakeups:
    """The wake-ups crons were asked for while it is open: ``{cron id: [datetime]}``
    (``ir.cron._trigger_list`` notes them there)."""

    def __init__(self):
        self.open = True
        self.asked = {}


class AddressBusy(Exception):
    """Another transaction is creating, or has just created, a record for this address."""


class MailboxRecordFactory(models.AbstractModel):
    _name = "mailbox.record.factory"
    _description = "Mailbox Pipeline: Create Records"

    # -- one record per new address --------------------------------------------------------
    @api.model
    def _claim(self, address):
        """Claim ``address`` for a creation in this transaction, or raise ``AddressBusy``."""
        cr = self.env.cr
        cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [ADDRESS_LOCK_NAMESPACE, address]
        )
        if not cr.fetchone()[0]:
            raise AddressBusy(address)
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    """
                    INSERT INTO mailbox_address_claim (address, claimed_at)
                    VALUES (%s, now() AT TIME ZONE 'UTC')
                    ON CONFLICT (address) DO UPDATE SET claimed_at = EXCLUDED.claimed_at
                    """,
                    [address],
                    log_exceptions=False,
                )
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.UniqueViolation):
            # claimed and committed by another transaction after our snapshot was taken
            raise AddressBusy(address) from None

    @api.model
    @contextlib.contextmanager
    def _cron_triggers_once(self):
        """An environment in which the crons that record creations wake up (the lead
        enrichment of ``crm_iap_enrich`` asks for each lead) are asked once, when the block
        ends, instead of once per record: the same wake-up after the commit, without a
        trigger row and a notification connection per lead. What the block rolls back, it
        never asks."""
        wakeups = CronWakeups()
        try:
            yield self.env(context=dict(self.env.context, **{GATHER_KEY: wakeups}))
        except BaseException:
            wakeups.open = False  # rolled back by the caller: nothing to ask
            raise
        self.env["ir.cron"]._mcl_trigger_gathered(wakeups)

    # -- records ---------------------------------------------------------------------------
    @api.model
    def _create_record(self, mailbox, message, address, name, decision, partners):
        """The record ``decision`` (a ``policy`` kind) for ``address``; None when the loop
        guard stops it (then ``message`` gets a note)."""
        forms = addresses.lookup_forms(address, mailbox.fold_plus)
        if decision in (policy.LEAD, policy.OPPORTUNITY):
            if self._loop_blocked(forms):
                return None
            client = partners.filtered(lambda p: not p.is_company)[:1] or partners[:1]
            decision = policy.lead_type(decision, self._leads_in_use(mailbox))
            return self.env["crm.lead"].create(
                self._lead_values(mailbox, message, address, name, decision, client)
            )
        return self.env["res.partner"].create(
            {
                **policy.partner_values(decision, name, address),
                "user_id": self._responsible(mailbox, message, decision, False).id or False,
            }
        )

    @api.model
    def _lead_values(self, mailbox, message, address, name, decision, client):
        user = self._responsible(mailbox, message, decision, client)
        # a mail without subject names its lead in the responsible's language, not the sync's
        in_lang = self.with_context(lang=user.lang or self.env.lang)
        return {
            "name": policy.clean_subject(message.subject)
            or in_lang.env._("Email from %s", name or address),
            "type": decision,
            "partner_id": client.id or False,
            "email_from": client.email if client else address,
            "contact_name": False if client else (name or False),
            "user_id": user.id or False,
            "team_id": mailbox.team_id.id or False,
            "source_id": mailbox._mcl_source().id or False,
            "medium_id": self.env.ref("utm.utm_medium_email").id,
        }

    @api.model
    def _leads_in_use(self, mailbox):
        """Odoo's rule for its mail alias (``crm.team._alias_get_creation_values``): leads
        when the "Leads" setting is on and the sales team uses them."""
        team = mailbox.team_id
        return self.env.user.has_group("crm.group_use_lead") and (not team or team.use_leads)

    @api.model
    def _loop_blocked(self, forms):
        """Odoo's mail gateway loop guard: too many leads from one address lately."""
        param = self.env["ir.config_parameter"].sudo().get_param
        minutes = int(param("mail.gateway.loop.minutes", 120))
        threshold = int(param("mail.gateway.loop.threshold", 20))
        since = self.env.cr.now() - timedelta(minutes=minutes)
        recent = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search_count([("email_normalized", "in", forms), ("create_date", ">", since)])
        )
        return policy.loop_blocked(recent, threshold)

    # -- responsible -----------------------------------------------------------------------
    @api.model
    def _responsible(self, mailbox, message, decision, client):
        """Who is responsible for a record the policy creates (an active internal user)."""
        if message.direction == classify.OUTGOING:
            if mailbox.outgoing_assign == "fixed":
                user = mailbox.outgoing_user_id
            else:
                user = self._user_by_address(mailbox, message.sender)
        elif client:
            if mailbox.known_assign == "fixed":
                user = mailbox.known_user_id
            else:
                user = client._mcl_responsible_user()
        elif mailbox.incoming_assign == "round_robin":
            user = self._round_robin(mailbox)
        else:
            user = mailbox.incoming_user_id
        user = user.filtered(lambda u: u.active and not u.share)
        return user or mailbox.owner_id

    @api.model
    def _user_by_address(self, mailbox, address):
        partners = self.env["res.partner"]._mcl_find_by_addresses(
            addresses.lookup_forms(address, mailbox.fold_plus)
        )
        users = self.env["res.partner"].union(*partners.values()).user_ids
        return users.filtered(lambda u: u.active and not u.share)[:1]

    @api.model
    def _round_robin(self, mailbox):
        """The next active member of the sales team; the owner, with a notice, when nobody
        is left."""
        members = mailbox.team_id.member_ids.filtered(lambda u: u.active and not u.share)
        next_id = policy.round_robin(sorted(members.ids), mailbox.rr_last_user_id.id or None)
        if not next_id:
            mailbox._mcl_notify_owner(
                self.env._("No one to assign new leads to in mailbox %s", mailbox.name),
                self.env._(
                    "Round robin found no active member in sales team %(team)s: new leads "
                    "of mailbox %(mailbox)s are assigned to you.",
                    team=mailbox.team_id.name or "-",
                    mailbox=mailbox.name,
                ),
            )
            return mailbox.owner_id
        user = self.env["res.users"].browse(next_id)
        mailbox.rr_last_user_id = user
        return user
