"""The routing explanation of a mail: why it is on a card, or why not (no ``odoo`` import).

The pipeline records its decisions as it makes them, in one small structured value per mail
(``mailbox.message.route``, JSON), and the web client words them at display time in the
reader's language (``mailbox.route.explainer``). Three parts, each written by one step:

- ``store`` (the store step, once): the folder and its role, the direction and the rule that
  decided it, the kind and the header or rule that decided it, private or not;
- ``link`` (the link step, replaced at each linking): the mailbox's link mode, the thread (which
  references matched records already), each client address with what it matched and what the
  create policy decided for it (created, reused, or nothing and why); ``relink``: the same for
  the last *Re-link* (which creates nothing), kept apart so that the first decision stays;
- ``notify`` (the publish step): who was told, about which record, and why.

Records are kept as ``[model, id]`` pairs; names are read at display time, with the reader's
rights. ``lines`` turns a route into ``(code, params)`` sentences; a param that names records
is a ``Records`` value.
"""

from dataclasses import dataclass

from . import classify, policy

VERSION = 1
MAX_ADDRESSES = 20  # client addresses explained per mail (a mail to 500 clients keeps 20)
MAX_THREAD = 10  # references explained per mail
MAX_RECORDS = 10  # records named per address or reference
MAX_NOTIFIED = 10

# how an address matched a record
BY_ADDRESS, BY_OTHER_ADDRESS, BY_LEAD, BY_COMPANY, BY_DEAL = (
    "address",
    "other_address",
    "lead",
    "company",
    "deal",
)
# what became of an address (besides the policy's ``to_create_why`` case)
CREATED, NOTHING, LOOP_GUARD, DEFERRED, NO_CREATE = (
    "created",
    "nothing",
    "loop_guard",
    "deferred",
    "no_create",
)
# why a user was notified: the record's responsible, the mailbox's owner (no responsible),
# one of the record's followers (Odoo notifies them of a posted email)
AS_RESPONSIBLE, AS_OWNER, AS_FOLLOWER = "responsible", "owner", "follower"


@dataclass(frozen=True)
class Records:
    """Records a sentence names: ``((model, id), ...)``; the reader sees their names."""

    refs: tuple


def ref(record_key):
    """``[model, id]`` of a ``(model, id)`` pair, as the route keeps it."""
    model, res_id = record_key
    return [model, int(res_id)]


def stored(folder_name, folder_role, direction_why, kind_why, private):
    """The ``store`` part: ``direction_why`` is ``classify.direction_why``'s pair,
    ``kind_why`` ``classify.kind_why``'s triple."""
    return {
        "v": VERSION,
        "store": {
            "folder": _text(folder_name),
            "role": folder_role or "",
            "direction": list(direction_why),
            "kind": [kind_why[0], kind_why[1], _text(kind_why[2])[:300]],
            "private": bool(private),
        },
    }


def _text(value):
    """A header's or folder's text as PostgreSQL keeps it in JSON (no NUL), so that the store
    step need not walk the route to clean it."""
    return (value or "").replace("\x00", "")


class LinkNotes:
    """The ``link`` part of one mail, filled in by the link step as it decides."""

    def __init__(self, mode="auto", history=False, allow_create=True):
        self.value = {"mode": mode, "history": bool(history), "create": bool(allow_create)}
        self.addresses = []
        self.threads = []

    def thread(self, reference, record_keys):
        """``reference`` (a Message-ID the mail answers) is already on ``record_keys``."""
        if len(self.threads) < MAX_THREAD:
            self.threads.append([reference[:200], [ref(k) for k in record_keys[:MAX_RECORDS]]])

    def address(self, address):
        """Start the notes of one client address; returns its entry to fill in."""
        entry = {"a": address[:200], "m": []}
        if len(self.addresses) < MAX_ADDRESSES:
            self.addresses.append(entry)
        return entry

    @staticmethod
    def matched(entry, record_key, how):
        if len(entry["m"]) < MAX_RECORDS:
            entry["m"].append([*ref(record_key), how])

    @staticmethod
    def decided(entry, decision, why, outcome=NOTHING, made=None):
        """The create policy for this address: ``decision`` (what to create, or None) and
        ``why`` (``policy.WHY_*``), then what happened (``CREATED`` with ``made``, the new
        record, ``NOTHING``, ``LOOP_GUARD``, ``DEFERRED``, ``NO_CREATE``)."""
        entry["do"] = decision
        entry["why"] = why
        entry["out"] = outcome
        if made:
            entry["made"] = ref(made)

    def deals(self, mode, needs_choice):
        self.value["deals"] = [mode, bool(needs_choice)]

    def finish(self, deferred=False):
        value = dict(self.value, addresses=self.addresses, threads=self.threads)
        if deferred:
            value["deferred"] = True
        return value


DISMISSED = "dismissed"  # taken off the triage queue by hand
IGNORED = "ignored"  # its correspondent (or their domain) put on the never-log list


def triaged(user_id, action, listed=None):
    """The ``triage`` part: who took the mail off the triage queue, and how; ``listed``: the
    never-log entry an Ignore Sender/Domain added (``bob@client.example``, ``@client.example``)."""
    entry = [int(user_id), action]
    if listed:
        entry.append(str(listed))
    return entry


def notified(user_id, record_key, why):
    """One ``notify`` entry: the user told about the record, and why (``AS_*``)."""
    return [int(user_id), *ref(record_key), why]


# -- wording ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class When:
    """A moment a sentence names (``"YYYY-MM-DD HH:MM:SS"``, UTC); the reader sees it in
    their own language and time zone."""

    value: str


def lines(route, current_kind=None, linked=(), state=None):
    """The route as sentences: ``[(code, params)]`` in the order the pipeline decided.
    ``current_kind``: the mail's kind now (a re-link or the triage may have changed it);
    ``linked``: the ``(model, id)`` records the mail is on now, so that what a later link
    undid (a removal by hand, a triage dismissal) is worded as history, not as the present;
    ``state``: the mail's state now (a dismissal is the present only while the mail is still
    "ignored": dismissed, linked since, then removed again, it is history).
    Codes are words the explainer translates; an unknown or empty route gives ``[]``, and a
    part that is not what this version writes is left out (never an error on display).
    Every key and list may be missing (the writer leaves out empty lists and defaults)."""
    if not isinstance(route, dict):
        return []
    try:
        linked = {(str(model), int(res_id)) for model, res_id in linked or ()}
    except (TypeError, ValueError):
        linked = set()
    out = []
    for part, words in (
        ("store", lambda v: _store_lines(v, current_kind)),
        ("link", _link_lines),
        ("notify", _notify_lines),
        ("relink", lambda v: _link_lines(v, relink=True)),
        ("triage", lambda v: _triage_lines(v, linked, state)),
        ("removed", lambda v: _removed_lines(v, linked)),
    ):
        value = route.get(part, None)
        if value is None:  # an empty part still says its defaults (a store part of {})
            continue
        try:
            out.extend(words(value))
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            continue
    # the Ignore says why the mail is never logged now, and who: the bare kind change goes
    if current_kind == classify.EXCLUDED and any(
        code in ("triage_ignored", "triage_applied") for code, _params in out
    ):
        out = [(code, params) for code, params in out if code != "kind_changed"]
    return out


def _triage_lines(entry, linked=(), state=None):
    user_id, action, *rest = entry
    # linked since (a Re-link, a link by hand), even if taken off that record again: what
    # took the mail off the queue is history, not the present
    since = bool(linked) or (state is not None and state != "ignored")
    user = Records((("res.users", int(user_id)),))
    if action == DISMISSED:
        code = "triage_dismissed_before" if since else "triage_dismissed"
        return [(code, {"user": user})]
    if action == IGNORED:
        if rest and rest[0]:  # the entry this Ignore added
            code = "triage_ignored_before" if since else "triage_ignored"
            return [(code, {"user": user, "entry": str(rest[0])})]
        # on the list already: the Ignore applied it to the queue
        return [("triage_applied_before" if since else "triage_applied", {"user": user})]
    return []


def removed(record_key, user_id, date, deleted=False):
    """One ``removed`` entry: ``user_id`` took the mail off ``record_key`` at ``date``, by
    hand ("Remove from card") or, ``deleted``, by deleting the record itself."""
    entry = {"record": ref(record_key), "user": int(user_id), "date": date}
    if deleted:
        entry["deleted"] = True
    return entry


def _removal_entries(route):
    """``[((model, id), user id, date, deleted)]`` of a route, oldest first; an entry that
    is not what this version writes is left out."""
    entries = route.get("removed") if isinstance(route, dict) else None
    out = []
    for entry in entries if isinstance(entries, list) else ():
        try:
            model, res_id = entry.get("record", None) or ()
            record_key = (str(model), int(res_id))
            user_id = int(entry.get("user", 0) or 0)
        except (AttributeError, TypeError, ValueError):
            continue
        if user_id:
            date = entry.get("date", "")
            date = date if isinstance(date, str) else ""
            out.append((record_key, user_id, date, entry.get("deleted", False) is True))
    return out


def removals(route):
    """The removals by hand of a route: ``[((model, id), user id, date), ...]``, oldest
    first (a record's deletion is not one: the mail cannot go back on it)."""
    return [entry[:3] for entry in _removal_entries(route) if not entry[3]]


def _removed_lines(entries, linked=()):
    out = []
    for record_key, user_id, date, deleted in _removal_entries({"removed": entries}):
        if deleted:
            code = "removed_deleted"
        else:  # linked to the same record again since: the removal is history
            code = "removed_relinked" if record_key in linked else "removed"
        user = Records((("res.users", user_id),))
        out.append((code, {"record": Records((record_key,)), "user": user, "date": When(date)}))
    return out


def _notify_lines(entries):
    out, followers = [], {}  # the followers of a record are said in one line
    for entry in entries:
        if isinstance(entry, list) and len(entry) == 4:
            user_id, model, res_id, why = entry
            if why == AS_FOLLOWER:
                followers.setdefault((model, res_id), []).append(("res.users", int(user_id)))
                continue
            code = "notified_owner" if why == AS_OWNER else "notified_responsible"
            user = Records((("res.users", int(user_id)),))
            out.append((code, {"user": user, "record": _recs([[model, res_id]])}))
    for (model, res_id), users in followers.items():
        record = _recs([[model, res_id]])
        out.append(("notified_followers", {"user": Records(tuple(users)), "record": record}))
    return out


def _recs(pairs):
    return Records(
        tuple((str(p[0]), int(p[1])) for p in pairs if isinstance(p, list) and len(p) >= 2)
    )


def _store_lines(store, current_kind):
    out = []
    folder, role = store.get("folder", ""), store.get("role", "") or "inbox"
    out.append(("folder", {"folder": str(folder or "INBOX"), "role": str(role)}))
    direction = store.get("direction", None) or []
    if len(direction) == 2:
        out.append(("direction_" + str(direction[1]), {}))
    kind = store.get("kind", None) or []
    if len(kind) in (2, 3):  # the detail may be left out when empty
        kind_, rule, detail = [*kind, ""][:3]
        out.append((f"kind_{kind_}_{rule}", {"detail": detail}))
        if current_kind and current_kind != kind_:
            out.append(("kind_changed", {"kind": current_kind}))
    if store.get("private", False):
        out.append(("private_correspondent", {}))
    return out


def _link_lines(link, relink=False):
    out = []
    mode = link.get("mode", "auto")
    if mode in ("manual", "off"):
        return [("mode_" + mode, {})]
    if link.get("history", False) and not relink:  # a Re-link is no import
        out.append(("history", {}))
    for thread in link.get("threads", None) or []:
        if isinstance(thread, list) and thread:
            reference, records = [*thread, []][:2]
            out.append(("thread", {"reference": str(reference), "records": _recs(records or [])}))
    for entry in link.get("addresses", None) or []:
        if isinstance(entry, dict):  # one odd entry costs its own sentences only
            out.extend(_address_lines(entry, relink))
    deals = link.get("deals", None) or []
    if len(deals) == 2 and deals[1]:
        out.append(("deal_choice", {}))
    if link.get("deferred", False):
        out.append(("deferred", {}))
    return out


def _address_lines(entry, relink=False):
    address = entry.get("a", "")
    matched = entry.get("m", None) or []
    out = []
    by_how = {}
    for model, res_id, how in (m for m in matched if isinstance(m, list) and len(m) == 3):
        by_how.setdefault(how, []).append([model, res_id])
    if not by_how:
        out.append(("address_unknown", {"address": address}))
    for how in (BY_ADDRESS, BY_OTHER_ADDRESS, BY_COMPANY, BY_LEAD, BY_DEAL):
        if how in by_how:
            out.append(("matched_" + how, {"address": address, "records": _recs(by_how[how])}))
    outcome = entry.get("out", NOTHING)
    why = entry.get("why", None)
    if outcome == CREATED:
        out.append(
            (
                "created_" + str(why),
                {"address": address, "records": _recs([entry.get("made") or []])},
            )
        )
    elif outcome == LOOP_GUARD:
        out.append(("not_created_loop_guard", {"address": address}))
    elif outcome == DEFERRED:
        out.append(("not_created_deferred", {"address": address}))
    elif outcome == NO_CREATE:
        code = "not_created_relink" if relink else "not_created_written"
        out.append((code, {"address": address}))
    elif outcome == NOTHING and why:
        if why in policy.SETTING_OF:
            out.append(("not_created_policy_" + policy.SETTING_OF[why], {"address": address}))
        elif why != policy.WHY_NOT_CLIENT:
            out.append(("not_created_" + str(why), {"address": address}))
    return out


def codes():
    """Every code ``lines`` can give (the explainer has a sentence for each)."""
    found = {"folder", "history", "thread", "deal_choice", "deferred", "kind_changed"}
    found |= {"private_correspondent", "mode_manual", "mode_off", "address_unknown"}
    found |= {"notified_owner", "notified_responsible", "notified_followers", "triage_dismissed"}
    found |= {"triage_dismissed_before", "removed", "removed_relinked", "removed_deleted"}
    found |= {"triage_ignored", "triage_ignored_before", "triage_applied", "triage_applied_before"}
    found |= {"direction_sent_folder", "direction_our_sender", "direction_their_sender"}
    found |= {
        "kind_spam_folder",
        "kind_internal_internal",
        "kind_bounce_header",
        "kind_bounce_sender",
        "kind_mailing_list_header",
        "kind_auto_reply_header",
        "kind_excluded_never_log",
        "kind_client_client",
        "kind_client_list_kept",
    }
    found |= {"matched_" + h for h in (BY_ADDRESS, BY_OTHER_ADDRESS, BY_COMPANY, BY_LEAD, BY_DEAL)}
    found |= {
        "created_" + w
        for w in (
            policy.WHY_ALWAYS,
            policy.WHY_UNKNOWN_IN,
            policy.WHY_KNOWN_IN,
            policy.WHY_UNKNOWN_OUT,
        )
    }
    found |= {"not_created_policy_" + s for s in policy.SETTING_OF.values()}
    found |= {
        "not_created_" + w
        for w in (
            policy.WHY_THREAD,
            policy.WHY_LEAD_ONLY,
            policy.WHY_OPEN_DEAL,
            policy.WHY_KNOWN_OUT,
            "loop_guard",
            "deferred",
            "relink",
            "written",
        )
    }
    return found


KINDS = (
    classify.CLIENT,
    classify.INTERNAL,
    classify.AUTO_REPLY,
    classify.BOUNCE,
    classify.MAILING_LIST,
    classify.SPAM,
    classify.EXCLUDED,
)


# -- "Why not?" on a card ------------------------------------------------------------------------
# why a mail of the card's addresses is not on the card (or not for everybody)
NOT_ERROR = "error"
NOT_MODE_MANUAL, NOT_MODE_OFF = "mode_manual", "mode_off"
NOT_SPAM, NOT_INTERNAL, NOT_NEVER_LOG = "spam", "internal", "never_log"
NOT_LIST, NOT_BOUNCE, NOT_AUTO_REPLY = "mailing_list", "bounce", "auto_reply"
NOT_DEFERRED, NOT_ELSEWHERE, NOT_MATCHED = "deferred", "linked_elsewhere", "matched_nothing"
NOT_REMOVED = "removed"  # taken off the card by hand
ONLY_PRIVATE, ONLY_STRICT = "private", "strict"
WHY_NOT = (
    NOT_ERROR,
    NOT_REMOVED,
    NOT_MODE_MANUAL,
    NOT_MODE_OFF,
    NOT_SPAM,
    NOT_INTERNAL,
    NOT_NEVER_LOG,
    NOT_LIST,
    NOT_BOUNCE,
    NOT_AUTO_REPLY,
    NOT_DEFERRED,
    NOT_ELSEWHERE,
    NOT_MATCHED,
    ONLY_PRIVATE,
    ONLY_STRICT,
)
_NOT_BY_KIND = {
    classify.SPAM: NOT_SPAM,
    classify.INTERNAL: NOT_INTERNAL,
    classify.EXCLUDED: NOT_NEVER_LOG,
    classify.MAILING_LIST: NOT_LIST,
    classify.BOUNCE: NOT_BOUNCE,
    classify.AUTO_REPLY: NOT_AUTO_REPLY,
}


def why_not(state, kind, on_card, linked_elsewhere, mode, deferred, private, strict, removed=False):
    """Why a mail from or to a card's addresses is not on the card, or not for everybody:
    one of ``WHY_NOT``, or ``None`` when it is on the card for whoever may read the card.

    ``on_card``: it is linked to the card (or, for a contact, to its deals);
    ``linked_elsewhere``: it is linked to other records; ``mode``: the mailbox's link mode;
    ``deferred``: its linking waits for another worker; ``private`` / ``strict``: the mail
    is private, its mailbox has strict visibility; ``removed``: someone took it off the card
    by hand (``removals``), which says more than what the pipeline decided before."""
    if state == "error":
        return NOT_ERROR
    if on_card:
        if private:
            return ONLY_PRIVATE
        return ONLY_STRICT if strict else None
    if removed:
        return NOT_REMOVED
    if mode == "manual":
        return NOT_MODE_MANUAL
    if mode == "off":
        return NOT_MODE_OFF
    if kind in _NOT_BY_KIND and not (kind == classify.AUTO_REPLY and linked_elsewhere):
        return _NOT_BY_KIND[kind]
    if deferred:
        return NOT_DEFERRED
    if linked_elsewhere:
        return NOT_ELSEWHERE
    return NOT_MATCHED


def can_link_here(reason):
    """Whether "Link here" is the action that puts the mail on the card (read mail only)."""
    return reason not in (None, NOT_ERROR, ONLY_PRIVATE, ONLY_STRICT)
