"""The pipeline's steps as named, overridable services (AbstractModels).

mailbox_sync     mailbox.sync            the ONLY place that commits or rolls back
message_store    mailbox.message.store   bytes -> stored rows; one bad mail never fails its batch
crm_linker       mailbox.crm.linker      match + policy decisions applied
record_factory   mailbox.record.factory  created records: values, responsible, loop guard, claim
card_publisher   mailbox.card.publisher  chatter entries, Email activities, notifications
route_explainer  mailbox.route.explainer the routing explanation of a mail, in words
mailbox_health   mailbox.health          failures, backoff, who is told what
mailbox_oauth    mailbox.oauth           OAuth logins (Gmail, Microsoft 365): Odoo's tokens,
                                         refreshed under a row lock in a short transaction of
                                         their own that commits at once (a rotated refresh
                                         token survives a rollback of the sync)
outbox           mailbox.outbox          mail written in the CRM: stored and queued in the
                                         request, sent after the commit, never twice; the ONLY
                                         place that commits in the outbound path

Odoo serves every public method of every model over JSON-RPC, AbstractModels included, to
any logged-in user (portal too). So the methods of these services are private ("_"
prefixed): server code calls and overrides them by those names, no client can. The one
exception is mailbox.sync, whose public entry points (cron_sync, sync_isolated, sync,
run_jobs) refuse anyone but the superuser and administrators (``_check_system``).
"""

from . import mailbox_health
from . import mailbox_oauth
from . import message_store
from . import record_factory
from . import card_publisher
from . import crm_linker
from . import mailbox_sync
from . import outbox
from . import route_explainer
