"""What a stored mail is: direction, and whether it is CRM material (no ``odoo`` import).

``kind`` answers the second question with one word. Only ``CLIENT`` mail creates records;
``AUTO_REPLY`` may still join the links of the thread it answers; the others are stored and
shown in the mailbox, never linked.
"""

from .addresses import in_list, is_internal, parse_list

INCOMING, OUTGOING = "incoming", "outgoing"

CLIENT = "client"
INTERNAL = "internal"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
MAILING_LIST = "mailing_list"
SPAM = "spam"
EXCLUDED = "excluded"  # every correspondent is on a "never log" list

AUTO_PRECEDENCE = ("bulk", "junk", "auto_reply")
ROBOT_LOCAL_PARTS = ("mailer-daemon", "postmaster")


def direction(sender, folder_role, internal):
    """Mail in the Sent folder, or written by one of us, is outgoing; the rest is incoming."""
    if folder_role == "sent" or is_internal(sender, internal):
        return OUTGOING
    return INCOMING


def is_internal_only(sender, recipients, internal):
    """True when every participant (sender and recipients) is internal: colleagues' mail."""
    participants = [a for a in [sender, *recipients] if a]
    return bool(participants) and all(is_internal(a, internal) for a in participants)


def is_bounce(headers, sender):
    """A delivery report (RFC 3464), or mail from the mail system itself."""
    ctype = headers.get("content-type", "").lower()
    if "multipart/report" in ctype and "delivery-status" in ctype:
        return True
    if "x-failed-recipients" in headers:
        return True
    return (sender or "").partition("@")[0] in ROBOT_LOCAL_PARTS


def is_auto_reply(headers):
    """Out-of-office and other automatic answers (RFC 3834 and the usual vendor headers)."""
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return True
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    return headers.get("precedence", "").strip().lower() in AUTO_PRECEDENCE


def is_mailing_list(headers):
    return "list-id" in headers


def correspondents(direction_, sender, recipients, internal):
    """The client side of a mail: its sender when incoming, its external recipients when
    outgoing."""
    if direction_ == INCOMING:
        return [sender] if sender and not is_internal(sender, internal) else []
    return [a for a in recipients if a and not is_internal(a, internal)]


def client_side(direction_, sender, email_from, email_to, email_cc, internal):
    """The client side of a stored mail as ``[(display name, address)]``, in order: what
    ``correspondents`` finds, with the names the headers give them."""
    senders = parse_list([email_from or ""])
    recipients = parse_list([email_to or "", email_cc or ""])
    names = {a: n for n, a in recipients + senders}
    found = correspondents(direction_, sender, [a for _n, a in recipients], internal)
    return [(names.get(a, ""), a) for a in found]


def kind(
    headers, direction_, sender, recipients, internal, folder_role, never_log=(), skip_lists=True
):
    """One word for what the mail is; see the module docstring."""
    if folder_role == "spam":
        return SPAM
    if is_internal_only(sender, recipients, internal):
        return INTERNAL
    if is_bounce(headers, sender):
        return BOUNCE
    if is_mailing_list(headers):
        if skip_lists:
            return MAILING_LIST
    elif is_auto_reply(headers):
        return AUTO_REPLY
    clients = correspondents(direction_, sender, recipients, internal)
    if clients and all(in_list(a, never_log) for a in clients):
        return EXCLUDED
    return CLIENT
