# Run by `tools/devenv.py demo` inside `odoo shell` (``env`` is given): configure the demo
# mailbox on the private Dovecot and run one sync. Placeholders are filled in by devenv.py.
Mailbox = env["fetchmail.server"]
values = {
    "name": "Sales mailbox (demo)",
    "server_type": "imap",
    "server": "127.0.0.1",
    "port": __IMAP_PORT__,
    "is_ssl": False,
    "user": "__LOGIN__",
    "password": "__PASSWORD__",
    "crm_link_mode": "auto",
    "connection_security": "none",
    "internal_domains": "mycompany.example",
    "import_window": "all",
}
mailbox = Mailbox.search([("user", "=", values["user"])], limit=1)
if mailbox:
    mailbox.set_draft()
    mailbox.write(values)
else:
    mailbox = Mailbox.create(values)
mailbox.button_confirm_login()
env.cr.commit()  # odoo shell: nothing is saved without it
result = mailbox._mcl_sync()  # the sync engine commits per batch itself
print(f"demo mailbox {mailbox.name!r} ({mailbox.server}:{mailbox.port}) synced: {result}")
