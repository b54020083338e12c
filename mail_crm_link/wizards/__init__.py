from . import mailbox_link_wizard
from . import mailbox_compose
