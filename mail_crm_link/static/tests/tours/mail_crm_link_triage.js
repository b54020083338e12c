import { registry } from "@web/core/registry";

// The triage queue (issue 25) as a sales user: from My Mailbox's "To Triage" button, link a
// mail through a suggestion, make a lead of another, ignore a sender, and see the count drop.
// The test (tests/test_triage_tour.py) syncs five mails from the private Dovecot first.

const openAppsMenu = () => ({
    trigger: ".o_navbar_apps_menu button:enabled",
    content: "Open the apps menu",
    run: "click",
});

const openMailMenu = (item, content) => [
    {
        trigger: "button[data-menu-xmlid='mail_crm_link.menu_mail_crm_link_root']",
        run: "click",
    },
    {
        trigger: `a[data-menu-xmlid='mail_crm_link.${item}']`,
        content,
        run: "click",
    },
];

const triageCount = (count) => ({
    trigger: `.o_form_view button[name='action_mcl_triage'] .o_stat_value:contains('${count}')`,
    content: `My Mailbox counts ${count} mails to triage`,
    run: function () {
        if (this.anchor.textContent.trim() !== String(count)) {
            throw new Error(`the count reads ${this.anchor.textContent}`);
        }
    },
});

const row = (subject) => `.o_list_view .o_data_row:contains('${subject}')`;

registry.category("web_tour.tours").add("mail_crm_link_triage", {
    url: "/odoo",
    steps: () => [
        openAppsMenu(),
        {
            trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
            content: "Open the CRM app",
            run: "click",
        },
        ...openMailMenu("menu_my_mailbox", "Open My Mailbox"),
        triageCount(5),
        {
            trigger: ".o_form_view button[name='action_mcl_triage']",
            content: "Open the mailbox's triage queue",
            run: "click",
        },
        {
            trigger: `${row("Preventivo")} button[name='action_triage_link']`,
            content: "Link the mail of an unknown colleague of a client",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='suggestion_ids'] .o_data_row:contains('Giulia Rossi'):contains('client.example')",
            content: "The client's contact is suggested by the sender's domain",
        },
        {
            trigger: ".modal .o_field_widget[name='suggestion_ids'] .o_data_row:contains('Giulia Rossi') button[name='action_link']",
            content: "One click links the mail",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            trigger: `.o_list_view:not(:has(${row("Preventivo")}))`,
            content: "The linked mail left the queue",
        },
        {
            trigger: `${row("Catalogo")} button[name='action_create_lead']`,
            content: "Make a lead of a new prospect's mail",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] textarea, .o_form_view .o_field_widget[name='name'] input",
            content: "The new lead is named after the subject",
            run: function () {
                if (this.anchor.value !== "Catalogo") {
                    throw new Error(`unexpected lead name ${this.anchor.value}`);
                }
            },
        },
        ...openMailMenu("menu_mailbox_message_triage", "Back to the queue"),
        {
            trigger: `.o_list_view:not(:has(${row("Catalogo")}))`,
            content: "The mail of the new lead left the queue",
        },
        {
            trigger: `${row("Offerte 1")} button[name='action_triage_ignore_sender']`,
            content: "Ignore a robot from now on",
            run: "click",
        },
        {
            trigger: ".modal footer button.btn-primary",
            content: "Confirm",
            run: "click",
        },
        {
            trigger: `.o_list_view:not(:has(${row("Offerte")}))`,
            content: "Both mails of the robot left the queue",
        },
        {
            trigger: row("Ciao"),
            content: "The other mail stays",
        },
        ...openMailMenu("menu_my_mailbox", "Back to My Mailbox"),
        triageCount(1),
    ],
});
