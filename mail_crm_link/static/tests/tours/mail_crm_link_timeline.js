import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

const MAIL = ".o_mcl_timeline_mail:contains('Richiesta di offerta')";

tours.add("mail_crm_link_timeline_reply", {
    steps: () => [
        {
            trigger: `${MAIL}:not(:contains('Re:')) .o_mcl_direction_incoming`,
            content: "The client's mail is on the deal's email timeline, as received",
        },
        {
            trigger: `${MAIL} .o_mcl_state:contains('Pending')`,
            content: "Its Email activity is open",
        },
        {
            trigger: ".o-mail-Message:contains('Richiesta di offerta') .o_mcl_chatter_direction.o_mcl_direction_incoming",
            content: "The chatter says it was received",
        },
        {
            trigger: `${MAIL} .o_mcl_timeline_head`,
            content: "Unfold the mail",
            run: "click",
        },
        {
            trigger: `${MAIL} .o_mcl_timeline_body`,
            content: "Its body shows",
        },
        {
            trigger: `${MAIL} .o_mcl_reply`,
            content: "Reply from the timeline",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='email_to'] input:value(giulia.rossi@client.example)",
            content: "The client's address is filled in",
        },
        {
            trigger: ".modal .o_field_widget[name='subject'] input:value(Re: Richiesta di offerta)",
        },
        {
            trigger: ".modal .o_field_widget[name='body'] blockquote",
            content: "The original is quoted",
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
        {
            trigger: ".o_mcl_timeline_mail:contains('Re: Richiesta di offerta') .o_mcl_direction_outgoing",
            content: "The answer is on the timeline, as sent",
        },
        {
            trigger: ".o_mcl_timeline_mail:contains('Re: Richiesta di offerta') .o_mcl_state:contains('Queued')",
            content: "waiting to leave",
        },
        {
            trigger: ".o_mcl_timeline_mail:contains('Re: Richiesta di offerta') .o_mcl_author",
            content: "written by the user (shown by name, not by the mailbox's address)",
        },
    ],
});
