"""What a user put in a wizard's row is theirs to see (issue 23).

``create`` accepts any id over RPC, and a many-to-one is read back with its display name
(which Odoo reads as superuser): a wizard row naming a colleague's lead or personal mailbox
would show its name. Each wizard checks, as the user, the records chosen in such fields.
"""


def check_chosen(wizards, names):
    """Raise AccessError unless the user may read every record named in ``names``."""
    for wizard in wizards:
        for name in names:
            chosen = wizard[name]
            if chosen:
                chosen.check_access("read")
