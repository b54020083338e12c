import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

tours.add("mail_crm_link_link_by_hand", {
    steps: () => [
        {
            trigger: ".o_form_view h1:contains('Richiesta di offerta')",
            content: "The mail is open",
        },
        {
            trigger: ".o_notebook .nav-link.active[name='body']",
            content: "It opens on the message, not on its CRM links",
        },
        {
            trigger: ".o_form_statusbar button:contains('Link to')",
            content: "Link it to a record",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='partner_id'] input",
            content: "Search the contact",
            run: "edit Giulia",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Giulia Rossi') a",
            run: "click",
        },
        {
            trigger: ".modal footer button[name='action_link']",
            content: "Link",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            trigger: ".o_notebook .nav-link[name='links']",
            content: "Open the CRM links",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='link_ids'] .o_data_row:contains('Giulia Rossi')",
            content: "The contact is among the mail's CRM links",
        },
    ],
});

tours.add("mail_crm_link_create_lead", {
    steps: () => [
        {
            trigger: ".o_form_view h1:contains('Richiesta di offerta')",
        },
        {
            trigger: ".o_form_statusbar button[name='action_create_lead']",
            content: "Create a lead from the mail",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] textarea, .o_form_view .o_field_widget[name='name'] input",
            content: "The new lead is named after the subject",
            run: function () {
                const value = this.anchor.value;
                if (value !== "Richiesta di offerta") {
                    throw new Error(`unexpected lead name ${value}`);
                }
            },
        },
        {
            trigger: ".o_form_view .o_field_widget[name='email_from'] input",
            run: function () {
                if (!this.anchor.value.startsWith("marco.bianchi@")) {
                    throw new Error(`unexpected address ${this.anchor.value}`);
                }
            },
        },
    ],
});

tours.add("mail_crm_link_create_lead_offers_open_ones", {
    steps: () => [
        {
            trigger: ".o_form_view h1:contains('Richiesta di offerta')",
        },
        {
            trigger: ".o_form_statusbar:not(:has(button[name='action_toggle_private']))",
            content: "A salesman who does not own the mailbox is not offered Private",
        },
        {
            trigger: ".o_form_statusbar button[name='action_create_lead']",
            content: "Create a lead from the mail",
            run: "click",
        },
        {
            trigger: ".modal .o_data_row:contains('Client Industries: 40 units')",
            content: "The client's open deal is offered first",
        },
        {
            trigger: ".modal .o_data_row:contains('Client Industries: 40 units') button[name='action_link']",
            content: "Link to this one",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] textarea, .o_form_view .o_field_widget[name='name'] input",
            content: "The deal opens, no new lead was made",
            run: function () {
                if (this.anchor.value !== "Client Industries: 40 units") {
                    throw new Error(`unexpected record ${this.anchor.value}`);
                }
            },
        },
    ],
});

tours.add("mail_crm_link_list_tags", {
    steps: () => [
        {
            trigger: ".o_list_view .o_data_row:contains('Richiesta di offerta') td[name='from_display']:contains('Giulia Rossi')",
            content: "The sender by name, not as a raw header",
        },
        {
            trigger: ".o_data_row:contains('Richiesta di offerta') td[name='link_deal_ids'] .o_tag:contains('Client Industries: 40 units')",
            content: "The deal the mail is on, as a tag",
        },
        {
            trigger: ".o_data_row:contains('Richiesta di offerta') td[name='link_contact_ids'] .o_tag:contains('Giulia Rossi')",
            content: "The contact, as a tag",
        },
        {
            trigger: ".o_list_view:not(:has(.o_tag:contains('secret project')))",
            content: "A colleague's deal the salesman cannot read is not named",
        },
    ],
});

tours.add("mail_crm_link_template_on_deal", {
    steps: () => [
        {
            trigger: ".o_form_view .o_field_widget[name='name'] input",
            content: "A new CRM template, as a salesman",
            run: "edit Seguito dell'offerta",
        },
        {
            // a <select> on Odoo 18, a SelectMenu (an <input>) on 19
            trigger: ".o_field_widget[name='mcl_model'] :is(select, input)",
            content: "Applies to leads and deals (no access error)",
            async run(helpers) {
                if (this.anchor.tagName === "SELECT") {
                    await helpers.select('"crm.lead"');
                } else {
                    await helpers.click();
                }
            },
        },
        {
            trigger:
                ".o_field_widget[name='mcl_model']:has(select), " +
                ".o_select_menu_item:contains('Leads and Deals')",
            content: "On 19: the choice in the menu",
            async run(helpers) {
                if (this.anchor.classList.contains("o_select_menu_item")) {
                    await helpers.click();
                }
            },
        },
        {
            trigger: ".o_field_widget[name='subject'] input",
            run: "edit Offerta per {{ object.name }}",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            trigger: ".o_form_saved, .o_form_view:not(:has(.o_form_button_save:visible))",
            content: "Saved",
        },
    ],
});

tours.add("mail_crm_link_mark_processed", {
    steps: () => [
        {
            trigger: ".o-mail-Activity:contains('Richiesta di offerta')",
            content: "The pending mail is an Email activity on the card",
        },
        {
            trigger: ".o-mail-Activity:contains('Richiesta di offerta') .o-mail-Activity-markDone",
            content: "Mark it done",
            run: "click",
        },
        {
            trigger: ".o-mail-ActivityMarkAsDone button[aria-label='Done']",
            run: "click",
        },
        {
            trigger: ".o-mail-Chatter:not(:has(.o-mail-Activity:contains('Richiesta di offerta')))",
            content: "Nothing is pending any more",
        },
    ],
});

tours.add("mail_crm_link_reply_from_card", {
    steps: () => [
        {
            trigger: ".o_form_view button[name='action_mcl_messages']",
            content: "Open the card's emails",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Richiesta di offerta') button[name='action_reply']",
            content: "Reply to the client's mail",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='email_to'] input:value(giulia.rossi@client.example)",
            content: "The client's address is filled in",
        },
        {
            trigger: ".modal .o_field_widget[name='body'] .odoo-editor-editable",
            content: "Write the answer",
            run: "editor Ecco il preventivo aggiornato.",
        },
        {
            trigger: ".modal footer button[name='action_send']",
            content: "Send",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});

tours.add("mail_crm_link_remove_from_card", {
    steps: () => [
        {
            trigger: ".o_form_view button[name='action_mcl_messages']",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Richiesta di offerta') button[name='action_remove_from_record']",
            content: "Remove this mail from the card",
            run: "click",
        },
        {
            trigger: ".modal footer .btn-primary",
            content: "Confirm",
            run: "click",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row:contains('Richiesta di offerta')))",
            content: "The mail left the card",
        },
    ],
});
