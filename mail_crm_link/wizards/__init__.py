from . import mailbox_link_wizard
from . import mailbox_compose
from . import mailbox_mass_compose
from . import mailbox_connect
from .. import compat

if compat.RESEND_DIALOG:  # Odoo 18's Resend dialog; 19 has none
    from . import mail_resend_message
    from . import mail_resend_partner
