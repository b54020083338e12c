import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// A sales user's day (issue 14, "Done when"): the created lead in the pipeline, a client
// mail from the notification to "processed", a file downloaded from the Files list.

tours.add("mail_crm_link_lead_in_pipeline", {
    steps: () => [
        {
            trigger: ".o_kanban_view .o_kanban_record:contains('Preventivo per 12 stampanti')",
            content: "The opportunity created from the unknown sender's mail is in the pipeline",
        },
        {
            trigger: ".o_searchview_input",
            content: "A search finds it",
            run: "edit stampanti",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            trigger: ".o_kanban_view .o_kanban_record:contains('Preventivo per 12 stampanti')",
        },
    ],
});

tours.add("mail_crm_link_lead_in_leads_menu", {
    steps: () => [
        {
            trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_leads']",
            content: "With the Leads setting on, open Leads",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row:contains('Preventivo per 30 monitor')",
            content: "The lead created from the unknown sender's mail is listed",
        },
    ],
});

const MAIL = ".o_mcl_timeline_mail:contains('Richiesta di offerta'):not(:contains('Re:'))";
const REPLY = ".o_mcl_timeline_mail:contains('Re: Richiesta di offerta')";

tours.add("mail_crm_link_client_mail_day", {
    steps: () => [
        {
            trigger: ".o_menu_systray i[aria-label='Messages']",
            content: "The messaging menu has something new",
            run: "click",
        },
        {
            trigger: ".o-mail-NotificationItem:contains('Client Industries: 40 units')",
            content: "The client's mail, on the responsible's deal",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] input:value(Client Industries: 40 units), .o_form_view .o_field_widget[name='name'] textarea:value(Client Industries: 40 units)",
            content: "One click opens the deal",
        },
        {
            trigger: `${MAIL} .o_mcl_direction_incoming`,
            content: "The timeline shows the mail, as received",
        },
        {
            trigger: `${MAIL} .o_mcl_state:contains('Pending')`,
        },
        {
            trigger: `${MAIL} .o_mcl_timeline_head`,
            content: "Unfold it",
            run: "click",
        },
        {
            trigger: `${MAIL} .o_mcl_reply`,
            content: "Reply",
            run: "click",
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
            trigger: `${REPLY} .o_mcl_direction_outgoing`,
            content: "The answer is on the timeline, as sent",
        },
        {
            trigger: `${REPLY} .o_mcl_author`,
            content: "by the user, by name (the test checks whose)",
        },
        {
            trigger: `${MAIL} .o_mcl_process`,
            content: "Mark the client's mail processed",
            run: "click",
        },
        {
            trigger: `${MAIL} .o_mcl_state:contains('Processed')`,
            content: "It is processed",
        },
        {
            trigger: `${MAIL}:not(:has(.o_mcl_process))`,
        },
    ],
});

// the file's bytes, as the test stores them
const FILE_NAME = "Listino prezzi 2026 - versione definitiva.pdf";
const FILE_TEXT = "%PDF-1.4 listino ".repeat(300);

tours.add("mail_crm_link_file_download", {
    steps: () => [
        {
            trigger: ".o_form_view button[name='action_mcl_files']",
            content: "The deal's files",
            run: "click",
        },
        {
            trigger: `.o_list_view .o_data_row td[name='name']:contains('${FILE_NAME}')`,
            content: "The file by its full name",
        },
        {
            trigger: `.o_data_row:contains('${FILE_NAME}') td[name='file_size_human']:contains('Kb')`,
            content: "its size with a unit",
        },
        {
            trigger: `.o_data_row:contains('${FILE_NAME}') button[name='action_download']`,
            content: "Download it",
            run() {
                // keep the address the web client downloads from (it assigns the location);
                // the next step fetches it as the browser would, with this user's session
                const real = window.location;
                window.mclDownloads = [];
                Object.defineProperty(browser, "location", {
                    configurable: true,
                    get() {
                        // (an empty target: Location's own methods may not be replaced)
                        return new Proxy({}, {
                            get(target, prop) {
                                if (prop === "assign") {
                                    return (url) => window.mclDownloads.push(String(url));
                                }
                                const value = real[prop];
                                return typeof value === "function" ? value.bind(real) : value;
                            },
                        });
                    },
                    set(value) {
                        window.location = value;
                    },
                });
                // Odoo 19 opens a download in a new tab (browser.open) instead
                window.mclOpen = browser.open;
                browser.open = (url) => {
                    window.mclDownloads.push(String(url));
                    return { closed: false };
                };
                this.anchor.click();
            },
        },
        {
            trigger: ".o_list_view",
            content: "The download answers with the file",
            async run() {
                for (let i = 0; i < 100 && !window.mclDownloads.length; i++) {
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                browser.open = window.mclOpen;
                Object.defineProperty(browser, "location", {
                    configurable: true,
                    get: () => window.location,
                    set: (value) => {
                        window.location = value;
                    },
                });
                const [url] = window.mclDownloads;
                if (!url || !url.includes("download=true")) {
                    throw new Error(`no download started: ${url}`);
                }
                const response = await fetch(url);
                const body = await response.text();
                const disposition = response.headers.get("Content-Disposition") || "";
                if (response.status !== 200 || body !== FILE_TEXT || !disposition.includes("attachment")) {
                    throw new Error(
                        `download failed: ${response.status} ${disposition} ${body.length} bytes`
                    );
                }
                document.body.classList.add("o_mcl_downloaded");
            },
        },
        {
            trigger: "body.o_mcl_downloaded",
        },
    ],
});

tours.add("mail_crm_link_timeline_uk", {
    steps: () => [
        {
            trigger: `${MAIL} .o_mcl_state:contains('Очікує')`,
            content: "A Ukrainian salesman reads the mail's state in Ukrainian",
        },
        {
            trigger: `${MAIL} .o_mcl_participants:contains('Отримані')`,
            content: "and its direction",
        },
        {
            trigger: ".o-mail-Message:contains('Richiesta di offerta') .o_mcl_chatter_direction:contains('Вхідний лист')",
            content: "The chatter says it was received, in Ukrainian",
        },
        {
            trigger: `${MAIL} .o_mcl_timeline_head`,
            run: "click",
        },
        {
            trigger: `${MAIL} .o_mcl_reply:contains('Відповісти')`,
        },
        {
            trigger: `${MAIL} .o_mcl_process:contains('Позначити обробленим')`,
        },
        {
            trigger: `${MAIL} .o_mcl_open_mail:contains('Відкрити в поштовій скриньці')`,
        },
        {
            trigger: ".o_mcl_timeline:not(:contains('Received')):not(:contains('Pending')):not(:contains('Mark Processed')):not(:contains('Open in Mailbox'))",
            content: "No English text of ours on the timeline",
        },
        {
            trigger: ".o-mail-Chatter:not(:contains('Incoming email'))",
            content: "nor in the chatter",
        },
    ],
});
