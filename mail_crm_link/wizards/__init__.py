from . import mailbox_link_wizard
