from . import chosen
from . import mailbox_link_wizard
from . import mailbox_link_suggestion
from . import mailbox_compose
from . import mailbox_mass_compose
from . import mailbox_connect
from . import mailbox_lead_choice
from . import mailbox_lead_choice_line
from . import mailbox_why_not
from . import mailbox_why_not_line
from .. import compat

if compat.RESEND_DIALOG:  # Odoo 18's Resend dialog; 19 has none
    from . import mail_resend_message
    from . import mail_resend_partner
