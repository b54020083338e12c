# Run by `tools/devenv.py demo` inside `odoo shell` (``env`` is given): configure the demo
# mailbox on the private Dovecot and its outgoing server on the demo SMTP server (which
# delivers into that mailbox), and run one sync. Placeholders are filled in by devenv.py.
MailServer = env["ir.mail_server"]
smtp_values = {
    "name": "Demo SMTP (delivers into the demo mailbox)",
    "smtp_host": "127.0.0.1",
    "smtp_port": __SMTP_PORT__,
    "smtp_encryption": "none",
}
mail_server = MailServer.search([("name", "=", smtp_values["name"])], limit=1)
if mail_server:
    mail_server.write(smtp_values)
else:
    mail_server = MailServer.create(smtp_values)
# the administrator writes from the company's domain: Odoo's own mail (invitations,
# "you have been assigned") delivered into the demo mailbox is then internal, not client mail
env.ref("base.user_admin").partner_id.email = "admin@mycompany.example"
Mailbox = env["fetchmail.server"]


def demo_mailbox(login, password, **extra):
    values = {
        # named by its address, as administrators do: the name of its leads' source too,
        # read the same in every language
        "name": login,
        "server_type": "imap",
        "server": "127.0.0.1",
        "port": __IMAP_PORT__,
        "is_ssl": False,
        "user": login,
        "password": password,
        "crm_link_mode": "auto",
        "connection_security": "none",
        "internal_domains": "mycompany.example",
        "import_window": "all",
        "email_address": login,
        "mail_server_id": mail_server.id,
        # a real, active user (not OdooBot, the shell's user): the responsible of what the
        # mailbox creates and of its Email activities, who is told about new client mail
        "owner_id": env.ref("base.user_admin").id,
        "team_id": env.ref("sales_team.team_sales_department").id,
        **extra,
    }
    mailbox = Mailbox.search([("user", "=", values["user"])], limit=1)
    if mailbox:
        mailbox.set_draft()
        mailbox.write(values)
        if mailbox.source_id == env.ref("mail_crm_link.utm_source_mailbox"):
            # a demo made before each mailbox had its own source (named after it, read the
            # same in every language): the generic "Mailbox" is replaced by it
            mailbox.source_id = False
    else:
        mailbox = Mailbox.create(values)
    mailbox.button_confirm_login()
    env.cr.commit()  # odoo shell: nothing is saved without it
    result = mailbox._mcl_sync()  # the sync engine commits per batch itself
    print(f"demo mailbox {mailbox.name!r} ({mailbox.server}:{mailbox.port}) synced: {result}")
    return mailbox


demo_mailbox("__LOGIN__", "__PASSWORD__")
# a client the sales team entered as a contact after his first mail: his deal's mail shows
# on his card, and "Why not?" there lists his out-of-office answer and his mailing-list post
Partner = env["res.partner"]
james = Partner.search([("email", "=", "james.oneill@client.example")], limit=1)
if not james:
    company = Partner.search([("name", "=", "Client Example Ltd"), ("is_company", "=", True)])
    company = company[:1] or Partner.create(
        {"name": "Client Example Ltd", "is_company": True, "website": "https://client.example"}
    )
    james = Partner.create(
        {
            "name": "James O'Neill",
            "email": "james.oneill@client.example",
            "parent_id": company.id,
            "function": "Purchasing Manager",
        }
    )
env["crm.lead"].search(
    [("email_from", "=", james.email), ("partner_id", "=", False)]
).partner_id = james
env.cr.commit()
# the second mailbox creates nothing for an unknown address: its unknown senders wait in the
# triage queue (CRM > Mail > To Triage); a known client's mail is linked as usual
demo_mailbox("__INFO_LOGIN__", "__INFO_PASSWORD__", incoming_unknown_action="none")
# a salesman (Sales: User: Own Documents Only), to try the cards, "Why not?" and the triage
# queue with a sales user's rights rather than an administrator's
Users = env["res.users"]
if not Users.with_context(active_test=False).search([("login", "=", "salesman")], limit=1):
    groups = "group_ids" if "group_ids" in Users._fields else "groups_id"  # 19 / 18
    sales = [env.ref("base.group_user").id, env.ref("sales_team.group_sale_salesman").id]
    Users.with_context(no_reset_password=True).create(
        {
            "name": "Sam Salesman",
            "login": "salesman",
            "password": "salesman",
            "email": "sam@mycompany.example",
            groups: [(6, 0, sales)],
        }
    )
    env.cr.commit()
print(f"outgoing server {mail_server.name!r} on 127.0.0.1:{mail_server.smtp_port}")
