"""The triage queue's decisions (no ``odoo`` import): which records to suggest for a mail
nobody linked, in which order, and what "ignore this sender / domain from now on" writes.

A mail is suggested a record for one or more reasons, strongest first:

1. ``THREAD``: the record is on other mail of the same conversation;
2. ``ADDRESS``: the record has the correspondent's very address (made after the mail came);
3. ``CORRESPONDENT``: the record is on recent mail from or to the same correspondent;
4. ``DOMAIN``: the record has an address at the correspondent's domain, unless that domain
   is a mail provider's (``policy.GENERIC_DOMAINS``: two gmail.com senders are not one
   client) or our own.

Candidates of equal weight are ordered by how recently they were met (a recent thread
first), then by the record's id, newest first.
"""

from dataclasses import dataclass, field

from .addresses import domain_of, in_list, is_internal, normalize
from .policy import GENERIC_DOMAINS

THREAD, ADDRESS, CORRESPONDENT, DOMAIN = "thread", "address", "correspondent", "domain"
WEIGHTS = {THREAD: 8, ADDRESS: 6, CORRESPONDENT: 4, DOMAIN: 2}
SUGGESTIONS = 10  # shown at most: one screen, not a search engine

SENDER, WHOLE_DOMAIN = "sender", "domain"
# why an address cannot go on the never-log list
NO_ADDRESS, GENERIC, OURS, ALREADY = "no_address", "generic", "ours", "already"


@dataclass(frozen=True)
class Candidate:
    """A record that could be suggested: ``key`` names it (``(model, id)``), ``addresses``
    are its normalized addresses; ``thread``/``correspondent``: it is on mail of the same
    conversation / of the same correspondent; ``seen``: when it was last met on such mail
    (any comparable value, None when never)."""

    key: tuple
    addresses: frozenset = field(default_factory=frozenset)
    thread: bool = False
    correspondent: bool = False
    seen: object = None


def suggestion_domain(address, internal=frozenset(), generic=GENERIC_DOMAINS):
    """The domain whose records are suggested for ``address``, or ``''`` when its domain is
    no client's: a mail provider's, or one of ours (``internal``)."""
    address = normalize(address or "")
    domain = domain_of(address)
    if not domain or domain in generic or is_internal(address, internal):
        return ""
    return domain


def reasons(address, candidate, internal=frozenset(), generic=GENERIC_DOMAINS):
    """Why ``candidate`` is suggested for a mail of ``address``: reasons, strongest first."""
    address = normalize(address or "")
    found = []
    if candidate.thread:
        found.append(THREAD)
    if address and address in candidate.addresses:
        found.append(ADDRESS)
    if candidate.correspondent:
        found.append(CORRESPONDENT)
    domain = suggestion_domain(address, internal, generic)
    if domain and any(domain_of(a) == domain for a in candidate.addresses):
        found.append(DOMAIN)
    return found


def rank(address, candidates, internal=frozenset(), generic=GENERIC_DOMAINS, limit=SUGGESTIONS):
    """``[(candidate, reasons)]`` for a mail of ``address``, best first, at most ``limit``;
    candidates without a reason are left out, and a record given twice counts once (its
    reasons and latest sighting merged)."""
    merged = {}
    for candidate in candidates:
        known = merged.get(candidate.key)
        if known is None:
            merged[candidate.key] = candidate
            continue
        seen = [s for s in (known.seen, candidate.seen) if s is not None]
        merged[candidate.key] = Candidate(
            key=candidate.key,
            addresses=known.addresses | candidate.addresses,
            thread=known.thread or candidate.thread,
            correspondent=known.correspondent or candidate.correspondent,
            seen=max(seen) if seen else None,
        )
    scored = []
    for candidate in merged.values():
        why = reasons(address, candidate, internal, generic)
        if why:
            scored.append((sum(WEIGHTS[r] for r in why), candidate, why))
    scored.sort(key=lambda item: _recency(item[1]), reverse=True)  # stable: ties by recency
    scored.sort(key=lambda item: item[0], reverse=True)
    return [(candidate, why) for _score, candidate, why in scored[: max(limit, 0)]]


def _recency(candidate):
    # never seen sorts after every sighting; then the newest record first
    return (candidate.seen is not None, candidate.seen or 0, candidate.key[1:])


def never_log_entry(address, scope, internal=frozenset(), listed=frozenset(), generic=None):
    """What "ignore from now on" adds to a mailbox's never-log list for a mail of
    ``address``: ``(entry, None)``, or ``('', reason)`` when it must not (``NO_ADDRESS``,
    ``GENERIC``: a whole mail provider, ``OURS``: our own address or domain, ``ALREADY``:
    the list has it). ``scope``: ``SENDER`` (the address) or ``WHOLE_DOMAIN`` (``@domain``,
    the form the list reads as a domain). ``listed``: the list as ``parse_internal`` reads
    it."""
    generic = GENERIC_DOMAINS if generic is None else generic
    address = normalize(address or "")
    domain = domain_of(address)
    if not address or not domain:
        return "", NO_ADDRESS
    if is_internal(address, internal):
        return "", OURS
    if scope == WHOLE_DOMAIN:
        if domain in generic:
            return "", GENERIC
        if domain in listed:
            return "", ALREADY
        return f"@{domain}", None
    if in_list(address, listed):
        return "", ALREADY
    return address, None


def add_entry(text, entry):
    """The never-log list ``text`` with ``entry`` added on a line of its own."""
    text = (text or "").rstrip()
    return f"{text}\n{entry}" if text else entry
