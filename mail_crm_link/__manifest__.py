{
    "name": "Mail CRM Link",
    "summary": "Connect company mailboxes (IMAP/POP3) to the CRM: every client email, "
    "incoming and outgoing, lands on its contacts, companies, leads and deals",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/mail-crm-link/mail_crm_link",
    "author": "mail_crm_link developers",
    "license": "LGPL-3",
    "depends": ["mail", "crm", "utm"],
    "external_dependencies": {"python": []},
    "data": [
        "security/ir.model.access.csv",
        "security/mail_crm_link_security.xml",
        "data/ir_cron.xml",
        "data/utm_source_data.xml",
        "views/fetchmail_server_views.xml",
        "views/mailbox_message_views.xml",
        "views/res_partner_views.xml",
        "views/crm_lead_views.xml",
        "views/mailbox_compose_views.xml",
        "views/mailbox_message_file_views.xml",
        "views/mailbox_send_batch_views.xml",
        "views/res_config_settings_views.xml",
        "views/mailbox_personal_views.xml",
        "views/mailbox_connect_views.xml",
        "views/res_users_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "mail_crm_link/static/src/**/*",
        ],
        "web.assets_tests": [
            "mail_crm_link/static/tests/tours/*.js",
        ],
    },
    "installable": True,
}
