import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

tours.add("mail_crm_link_link_by_hand", {
    steps: () => [
        {
            trigger: ".o_form_view h1:contains('Richiesta di offerta')",
            content: "The mail is open",
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
