import { registry } from "@web/core/registry";

// stepUtils moved between Odoo 18 (@web_tour/tour_service/tour_utils) and 19
// (@web_tour/tour_utils): its one step used here is written out instead.

registry.category("web_tour.tours").add("mail_crm_link_open_mailboxes", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button:enabled",
            content: "Open the apps menu",
            run: "click",
        },
        {
            trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
            content: "Open the CRM app",
            run: "click",
        },
        {
            trigger: ".o_opportunity_kanban",
            content: "The pipeline is shown",
        },
        {
            trigger: "button[data-menu-xmlid='crm.crm_menu_config']",
            content: "Open Configuration",
            run: "click",
        },
        {
            trigger: "a[data-menu-xmlid='mail_crm_link.menu_mail_crm_link_config']",
            content: "Open Mailboxes",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Sales mailbox (tour)')",
            content: "The configured mailbox is listed",
        },
        {
            trigger: ".o_data_row:contains('Sales mailbox (tour)') td.o_data_cell",
            content: "Open it",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='port'] input",
            content: "Its port reads without a thousands separator",
            run: function () {
                if (this.anchor.value !== "10143") {
                    throw new Error(`the port reads ${this.anchor.value}`);
                }
            },
        },
    ],
});
