import { registry } from "@web/core/registry";

// stepUtils moved between Odoo 18 (@web_tour/tour_service/tour_utils) and 19
// (@web_tour/tour_utils): its one step used here is written out instead.
const openAppsMenu = () => ({
    trigger: ".o_navbar_apps_menu button:enabled",
    content: "Open the apps menu",
    run: "click",
});

// A selection field is a <select> on Odoo 18 and a SelectMenu (an <input> showing the
// chosen label) on 19: the label shown, on both.
const shownChoice = (element) =>
    element.tagName === "SELECT"
        ? element.selectedOptions[0]?.textContent.trim()
        : element.value.trim();

// The test sets window.mclConnectTour = {email, server, port, password} (the private Dovecot)
const given = (key) => window.mclConnectTour[key];

registry.category("web_tour.tours").add("mail_crm_link_connect_mailbox", {
    url: "/odoo",
    steps: () => [
        openAppsMenu(),
        {
            trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
            content: "Open the CRM app",
            run: "click",
        },
        {
            trigger: "button[data-menu-xmlid='mail_crm_link.menu_mail_crm_link_root']",
            content: "Open the Mail menu",
            run: "click",
        },
        {
            trigger: "a[data-menu-xmlid='mail_crm_link.menu_my_mailbox']",
            content: "My Mailbox: none yet, so the wizard opens",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='email'] input",
            content: "Type my address",
            async run(helpers) {
                await helpers.edit(given("email"));
            },
        },
        {
            trigger: ".modal .o_field_widget[name='provider'] :is(select, input)",
            content: "A company address: no known provider",
            run() {
                const shown = shownChoice(this.anchor);
                if (shown !== "Other mail server") {
                    throw new Error(`unexpected provider ${shown}`);
                }
            },
        },
        {
            trigger: ".modal .o_field_widget[name='server'] input",
            async run(helpers) {
                await helpers.edit(given("server"));
            },
        },
        {
            trigger: ".modal .o_field_widget[name='port'] input",
            async run(helpers) {
                await helpers.edit(String(given("port")));
            },
        },
        {
            trigger: ".modal .o_field_widget[name='connection_security'] :is(select, input)",
            content: "No TLS (the test's Dovecot port): chosen on 18, the menu opened on 19",
            async run(helpers) {
                if (this.anchor.tagName === "SELECT") {
                    await helpers.selectByLabel("None (plain text)");
                } else {
                    await helpers.click();
                }
            },
        },
        {
            trigger:
                ".modal .o_field_widget[name='connection_security']:has(select), " +
                ".o_select_menu_item:contains('None (plain text)')",
            content: "On 19: the choice in the menu",
            async run(helpers) {
                if (this.anchor.classList.contains("o_select_menu_item")) {
                    await helpers.click();
                }
            },
        },
        {
            trigger: ".modal .o_field_widget[name='password'] input",
            content: "A wrong password first",
            run: "edit not-my-password",
        },
        {
            trigger: ".modal footer button[name='action_test']",
            content: "Test the connection",
            run: "click",
        },
        {
            trigger: ".modal .o_mcl_test_failed:contains('refused the user name or the password')",
            content: "The test says what is wrong, in one sentence",
        },
        {
            trigger: ".modal .o_field_widget[name='password'] input",
            content: "The right password",
            async run(helpers) {
                await helpers.edit(given("password"));
            },
        },
        {
            trigger: ".modal footer button[name='action_test']",
            run: "click",
        },
        {
            trigger: ".modal .o_mcl_test_ok:contains('The connection works')",
            content: "The connection works",
        },
        {
            trigger: ".modal .o_field_widget[name='password'] input",
            content: "The password again: a test does not keep it",
            async run(helpers) {
                await helpers.edit(given("password"));
            },
        },
        {
            trigger: ".modal footer button[name='action_connect']",
            content: "Connect",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='email_address']:contains('mycompany.example')",
            content: "My mailbox is shown",
        },
        {
            trigger: ".o_form_statusbar .o_arrow_button_current:contains('waiting for the first sync')",
            content: "It waits for its first sync",
        },
    ],
});

registry.category("web_tour.tours").add("mail_crm_link_my_mailbox_disconnect", {
    url: "/odoo",
    steps: () => [
        openAppsMenu(),
        {
            trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
            run: "click",
        },
        {
            trigger: "button[data-menu-xmlid='mail_crm_link.menu_mail_crm_link_root']",
            run: "click",
        },
        {
            trigger: "a[data-menu-xmlid='mail_crm_link.menu_my_mailbox']",
            content: "My Mailbox opens the connected mailbox",
            run: "click",
        },
        {
            trigger: ".o_form_statusbar .o_arrow_button_current:contains('Synchronized')",
            content: "The mailbox has synced",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='count_new'], .o_form_view .o_field_widget[name='count_linked']",
        },
        {
            trigger: ".o_form_statusbar button[name='action_mcl_sync_mine']",
            content: "Sync Now",
            run: "click",
        },
        {
            trigger: ".o_form_statusbar button[name='action_mcl_disconnect']",
            content: "Disconnect",
            run: "click",
        },
        {
            trigger: ".modal footer button.btn-primary",
            content: "Confirm",
            run: "click",
        },
        {
            trigger: ".o_form_statusbar .o_arrow_button_current:contains('Disconnected')",
            content: "Disconnected",
        },
        {
            trigger: ".o_form_statusbar button[name='action_mcl_reconnect']",
            content: "It can be reconnected later",
        },
    ],
});
