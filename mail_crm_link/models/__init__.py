from . import fetchmail_server
