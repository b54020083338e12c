from . import fields_extra
from . import fetchmail_server
from . import mailbox_folder
from . import mailbox_message
