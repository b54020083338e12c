from . import mailbox_listen
