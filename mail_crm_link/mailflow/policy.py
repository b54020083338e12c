"""The create policy of a mailbox and the small decisions around links (no ``odoo`` import).

``to_create`` is the whole built-in policy for one correspondent of one mail:

1. incoming from an unknown address → ``incoming_unknown`` (a lead by default);
2. outgoing to an unknown address → ``outgoing_unknown`` (a contact by default);
3. incoming from a known client → ``incoming_known`` (an opportunity by default), only when the
   client has no open opportunity if ``only_without_open_deal``.

A reply in a thread the CRM already follows creates nothing (it is linked by its thread), and
only client mail (``classify.CLIENT``) ever creates anything. Addresses on the "always create"
list (a web form's sender) create on every mail.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from . import classify
from .addresses import domain_of, in_list, normalize

LEAD, OPPORTUNITY, CONTACT, COMPANY, NOTHING = "lead", "opportunity", "contact", "company", "none"
DEALS_ALL, DEALS_RECENT, DEALS_SINGLE, DEALS_NONE = "all", "recent", "single", "none"

GENERIC_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "mail.ru",
        "yandex.ru",
        "ukr.net",
        "i.ua",
        "libero.it",
        "virgilio.it",
        "proton.me",
    }
)
REPLY_PREFIX_RE = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|r|rif|i|відп|пер|ответ|отв|пересл)\s*(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
# a subject already marked as forwarded (not re-marked when forwarded again)
FORWARD_PREFIX_RE = re.compile(r"^\s*(fw|fwd|wg|i|пер|пересл)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Policy:
    incoming_unknown: str = LEAD
    outgoing_unknown: str = CONTACT
    incoming_known: str = OPPORTUNITY
    only_without_open_deal: bool = True
    always_create: frozenset = field(default_factory=frozenset)


def to_create(policy, direction, kind, address, known, client, thread_linked, client_has_open_deal):
    """What to create for ``address``, one correspondent of a mail: LEAD, OPPORTUNITY, CONTACT,
    COMPANY or ``None``.

    ``known``: some contact, company, lead or deal has the address; ``client``: a contact or
    company has it; ``thread_linked``: the mail answers a thread the CRM already follows.
    """
    return to_create_why(
        policy, direction, kind, address, known, client, thread_linked, client_has_open_deal
    )[0]


# why ``to_create_why`` decided so (the routing explanation words each one)
WHY_NOT_CLIENT = "not_client"  # not client mail, or no address
WHY_ALWAYS = "always_create"  # on the "always create" list
WHY_THREAD = "thread"  # answers a thread the CRM follows
WHY_UNKNOWN_IN = "unknown_sender"  # incoming from an unknown address: incoming_unknown
WHY_LEAD_ONLY = "known_lead_only"  # known as a lead or deal only, not as a contact
WHY_OPEN_DEAL = "open_deal"  # a known client with an open deal, only_without_open_deal
WHY_KNOWN_IN = "known_client"  # incoming from a known client: incoming_known
WHY_KNOWN_OUT = "known_recipient"  # outgoing to a known address
WHY_UNKNOWN_OUT = "unknown_recipient"  # outgoing to an unknown address: outgoing_unknown
# the cases a setting decides: ``None`` then means the setting says "nothing"
SETTING_OF = {
    WHY_UNKNOWN_IN: "incoming_unknown",
    WHY_KNOWN_IN: "incoming_known",
    WHY_UNKNOWN_OUT: "outgoing_unknown",
}


def to_create_why(
    policy, direction, kind, address, known, client, thread_linked, client_has_open_deal
):
    """``(what to create or None, why)``: ``to_create`` and the case of the policy that
    decided it (one of the ``WHY_*`` words)."""
    if kind != classify.CLIENT or not address:
        return None, WHY_NOT_CLIENT
    if direction == classify.INCOMING:
        if in_list(address, policy.always_create):
            choice = policy.incoming_unknown if policy.incoming_unknown != NOTHING else LEAD
            return choice, WHY_ALWAYS
        if thread_linked:
            return None, WHY_THREAD
        if not known:
            return _something(policy.incoming_unknown), WHY_UNKNOWN_IN
        if not client:
            return None, WHY_LEAD_ONLY
        if policy.only_without_open_deal and client_has_open_deal:
            return None, WHY_OPEN_DEAL
        return _something(policy.incoming_known), WHY_KNOWN_IN
    if known:
        return None, WHY_KNOWN_OUT
    return _something(policy.outgoing_unknown), WHY_UNKNOWN_OUT


def lead_type(decision, leads_in_use):
    """The ``crm.lead`` type of a record to create: a *lead* only where the database (and
    the mailbox's sales team) uses leads, else an opportunity, as Odoo's own mail alias does;
    otherwise a created lead would be in no pipeline anyone looks at."""
    if decision == LEAD and not leads_in_use:
        return OPPORTUNITY
    return decision


def _something(choice):
    return None if choice == NOTHING else choice


def deals_to_link(open_deals, mode):
    """Which of a client's open deals a mail links to.

    ``open_deals``: ``[(id, last update)]``. Returns ``(ids, needs_choice)``; ``needs_choice``
    is set when the mode is "only when exactly one is open" and several are.
    """
    if mode == DEALS_NONE or not open_deals:
        return [], False
    if mode == DEALS_ALL:
        return [deal_id for deal_id, _date in open_deals], False
    if mode == DEALS_RECENT:
        return [max(open_deals, key=lambda d: (d[1], d[0]))[0]], False
    if len(open_deals) == 1:
        return [open_deals[0][0]], False
    return [], True


def clean_subject(subject):
    """A subject fit to name a record: reply/forward prefixes (in our users' languages) and
    extra spaces removed; ``''`` when nothing is left."""
    text = REPLY_PREFIX_RE.sub("", subject or "")
    return " ".join(text.split())[:200]


def contact_name(display_name, address):
    """A new contact's name: the display name of the address, else the address."""
    name = " ".join((display_name or "").split()).strip("'\" ")
    return name if name and "@" not in name else address


def company_name(display_name, address):
    """A new company's name: from the address's domain (``acme-tools.com`` → ``Acme Tools``),
    or the person's name for a mail provider's address."""
    domain = domain_of(address)
    if not domain or domain in GENERIC_DOMAINS:
        return contact_name(display_name, address)
    label = domain.split(".")[-2] if domain.count(".") else domain
    return " ".join(part.capitalize() for part in re.split(r"[-_]", label) if part) or domain


def partner_values(decision, display_name, address):
    """Name and kind of a contact or company created for ``address``."""
    is_company = decision == COMPANY
    name = (company_name if is_company else contact_name)(display_name, address)
    return {"name": name, "is_company": is_company, "email": address or False}


def round_robin(member_ids, last_id):
    """The next of ``member_ids`` (ascending) after ``last_id``, cycling; ``None`` if empty."""
    if not member_ids:
        return None
    for member_id in member_ids:
        if last_id is None or member_id > last_id:
            return member_id
    return member_ids[0]


def next_working_day(day, working_days=1):
    """The date ``working_days`` working days (Monday to Friday) after ``day``."""
    remaining = max(working_days, 0)
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    while day.weekday() >= 5:  # "0 working days" from a Saturday is Monday
        day += timedelta(days=1)
    return day


def loop_blocked(recent_count, threshold):
    """Odoo's mail gateway loop guard: at most ``threshold`` records per sender per period."""
    return threshold > 0 and recent_count >= threshold


# -- Send As -----------------------------------------------------------------------------------
def send_as_addresses(mailbox_address, login, aliases, user_address=None):
    """The addresses mail written from the CRM may leave a mailbox from: its own address, its
    login when that is an address, the aliases its administrator listed (text, one per line
    or comma-separated), and the sending user's own address (``user_address``; the mailbox's
    SMTP server may still refuse it). Normalized; a template's or anybody else's address is
    not among them unless listed as an alias."""
    found = set()
    for value in [mailbox_address, login, user_address, *re.split(r"[\s,;]+", aliases or "")]:
        address = normalize(value or "")
        if address and "@" in address:
            found.add(address)
    return found
