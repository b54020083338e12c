"""What a stored mail is: direction, internal or client mail (no ``odoo`` import)."""

from .addresses import is_internal

INCOMING, OUTGOING = "incoming", "outgoing"


def direction(sender, folder_role, internal):
    """Mail in the Sent folder, or written by one of us, is outgoing; the rest is incoming."""
    if folder_role == "sent" or is_internal(sender, internal):
        return OUTGOING
    return INCOMING


def is_internal_only(sender, recipients, internal):
    """True when every participant (sender and recipients) is internal: colleagues' mail."""
    participants = [a for a in [sender, *recipients] if a]
    return bool(participants) and all(is_internal(a, internal) for a in participants)
