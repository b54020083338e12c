"""Small decisions of the sync itself (no ``odoo`` import): batching, backoff, windows."""

import re
from datetime import timezone

SERVER, INTERNAL = "server", "internal"
MAX_BACKOFF_MINUTES = 24 * 60


def chunks(values, size):
    """``values`` in consecutive lists of at most ``size``."""
    size = max(int(size), 1)
    return [values[i : i + size] for i in range(0, len(values), size)]


def split_by_budget(uids, sizes, max_count, max_bytes):
    """``uids`` (in order) cut into batches of at most ``max_count`` mails and ``max_bytes``
    bytes (by ``sizes``: uid → RFC822.SIZE). A mail larger than the budget goes alone; a mail
    of unknown size counts as empty. Order is kept, nothing is dropped."""
    batches, batch, total = [], [], 0
    for uid in uids:
        size = max(int(sizes.get(uid) or 0), 0)
        if batch and (len(batch) >= max_count or total + size > max_bytes):
            batches.append(batch)
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        batches.append(batch)
    return batches


def next_sync_minutes(poll_interval, failure_count, kind):
    """Minutes to the next attempt. A failing mail server is retried after 1, 2, 4 …
    polling intervals (at most a day); a failure of our own code is retried at the normal
    interval: the server is fine, backing off would only delay mail after a fix."""
    poll = max(int(poll_interval or 1), 1)
    if kind != SERVER or failure_count <= 0:
        return poll
    return min(poll * 2 ** min(failure_count, 10), MAX_BACKOFF_MINUTES)


def outside_window(date, since):
    """True when a mail dated ``date`` (aware or naive UTC) is older than the import window
    starting at ``since`` (naive UTC, or None for no window). Undated mail is inside."""
    if since is None or date is None:
        return False
    if date.tzinfo is not None:
        date = date.astimezone(timezone.utc).replace(tzinfo=None)
    return date < since


def progress(done, total):
    """``(done, total)`` for people: never more done than there is in total."""
    total = max(int(total or 0), 0)
    return min(max(int(done or 0), 0), total), total


__all__ = [
    "INTERNAL",
    "SERVER",
    "chunks",
    "fetch_shortfall",
    "format_uid_list",
    "much_shorter",
    "next_sync_minutes",
    "outside_window",
    "parse_uid_list",
    "pop_counts_disagree",
    "progress",
    "split_by_budget",
]


def listing_suspect(listed, exists, uidnext, first_uid):
    """Whether a folder's listing (``listed`` UIDs at or above ``first_uid``) may have missed
    mail the server itself counts (issue 24): fewer UIDs than both the messages the folder
    holds (``exists``, from SELECT) and the UIDs assigned at or above ``first_uid``
    (``uidnext - first_uid``). Deleted mail makes this true too, harmlessly: it only asks for
    a second listing, which then agrees."""
    assigned = max(uidnext - first_uid, 0) if uidnext else exists
    return listed < min(exists, assigned)


# a literal this much shorter than the RFC822.SIZE announced is worth a word on the folder:
# some servers (Exchange) announce estimated sizes, a few bytes or percent off
SHORT_LITERAL_RATIO = 0.95


def fetch_shortfall(asked, received, sizes):
    """What a ``UID FETCH`` of the UIDs ``asked`` left out (issue 24): ``(missing, short)``,
    the UIDs asked for that no answer carried, and those whose content (``received``:
    uid → bytes received) is much shorter than the RFC822.SIZE the server announced
    (``sizes``; see ``much_shorter``: Exchange announces estimates).
    Answers for UIDs not asked for are the caller's to drop."""
    missing = [uid for uid in asked if uid not in received]
    short = [
        uid for uid in asked if uid in received and much_shorter(received[uid], sizes.get(uid))
    ]
    return missing, short


def much_shorter(received, announced):
    """Whether ``received`` bytes fall short of an ``announced`` size by more than a
    server's estimate would."""
    return bool(announced) and received < announced * SHORT_LITERAL_RATIO


def parse_uid_list(text):
    """The UIDs of a stored comma-separated list (``"5,7"``), ascending; junk is dropped."""
    return sorted({int(v) for v in (text or "").split(",") if v.strip().isdigit()})


def format_uid_list(uids):
    return ",".join(str(uid) for uid in sorted(set(uids))) or False


def pop_counts_disagree(stat_count, uidl_count, list_count):
    """Whether a POP3 server's own counts (``STAT``, ``UIDL``, ``LIST``) contradict each
    other; ``None`` stands for an answer not asked for."""
    counts = {c for c in (stat_count, uidl_count, list_count) if c is not None}
    return len(counts) > 1


def warning_signature(folder_id, warning):
    """What makes a warning new, for telling people (issue 24): its folder and its words,
    not the counts in it (which move with every new mail)."""
    return f"{folder_id}:" + re.sub(r"\d+", "#", warning or "")


def notified_signatures(text):
    return {line for line in (text or "").splitlines() if line}
