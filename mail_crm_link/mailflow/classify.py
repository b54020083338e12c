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
    return direction_why(sender, folder_role, internal)[0]


def direction_why(sender, folder_role, internal):
    """``(direction, rule)``: what ``direction`` answers and the rule that decided it:
    ``"sent_folder"``, ``"our_sender"`` or ``"their_sender"``."""
    if folder_role == "sent":
        return OUTGOING, "sent_folder"
    if is_internal(sender, internal):
        return OUTGOING, "our_sender"
    return INCOMING, "their_sender"


def is_internal_only(sender, recipients, internal):
    """True when every participant (sender and recipients) is internal: colleagues' mail."""
    participants = [a for a in [sender, *recipients] if a]
    return bool(participants) and all(is_internal(a, internal) for a in participants)


def is_bounce(headers, sender):
    """A delivery report (RFC 3464), or mail from the mail system itself."""
    return bool(bounce_why(headers, sender))


def bounce_why(headers, sender):
    """What makes the mail a delivery report: ``("header", "Name: value")`` or
    ``("sender", address)``; ``None`` when it is not one."""
    ctype = headers.get("content-type", "").lower()
    if "multipart/report" in ctype and "delivery-status" in ctype:
        return "header", _shown("Content-Type", headers["content-type"])
    if "x-failed-recipients" in headers:
        return "header", _shown("X-Failed-Recipients", headers["x-failed-recipients"])
    if (sender or "").partition("@")[0] in ROBOT_LOCAL_PARTS:
        return "sender", sender
    return None


def is_auto_reply(headers):
    """Out-of-office and other automatic answers (RFC 3834 and the usual vendor headers)."""
    return bool(auto_reply_why(headers))


def auto_reply_why(headers):
    """The header that makes the mail an automatic answer, as ``"Name: value"``; ``None``
    when it is not one."""
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return _shown("Auto-Submitted", headers["auto-submitted"])
    for name, shown in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        if name in headers:
            return _shown(shown, headers[name])
    if headers.get("precedence", "").strip().lower() in AUTO_PRECEDENCE:
        return _shown("Precedence", headers["precedence"])
    return None


def _shown(name, value):
    """A header as the explanation shows it: ``Name: value``, one line, 100 characters."""
    text = " ".join(str(value or "").split())
    return f"{name}: {text[:100]}" if text else name


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
    return kind_why(
        headers, direction_, sender, recipients, internal, folder_role, never_log, skip_lists
    )[0]


def kind_why(
    headers, direction_, sender, recipients, internal, folder_role, never_log=(), skip_lists=True
):
    """``(kind, rule, detail)``: what ``kind`` answers, the rule that decided it and what the
    rule saw, for the mail's routing explanation (``explain``):

    - ``("folder", role)``: the folder's role (spam);
    - ``("internal", "")``: every participant is one of ours;
    - ``("header", "Name: value")``: a header (delivery report, list, automatic answer);
    - ``("sender", address)``: the mail system's own address (delivery report);
    - ``("never_log", "a, b")``: every correspondent is on a never-log list;
    - ``("client", "a, b")``: the client addresses (the lists kept, when ``skip_lists`` is
      off, are noted as ``("list_kept", "List-Id: ...")``).
    """
    if folder_role == "spam":
        return SPAM, "folder", folder_role
    if is_internal_only(sender, recipients, internal):
        return INTERNAL, "internal", ""
    bounce = bounce_why(headers, sender)
    if bounce:
        return BOUNCE, *bounce
    listed = is_mailing_list(headers)
    if listed and skip_lists:
        return MAILING_LIST, "header", _shown("List-Id", headers["list-id"])
    auto = None if listed else auto_reply_why(headers)
    if auto:
        return AUTO_REPLY, "header", auto
    clients = correspondents(direction_, sender, recipients, internal)
    if clients and all(in_list(a, never_log) for a in clients):
        return EXCLUDED, "never_log", ", ".join(clients)
    if listed:
        return CLIENT, "list_kept", _shown("List-Id", headers["list-id"])
    return CLIENT, "client", ", ".join(clients)
