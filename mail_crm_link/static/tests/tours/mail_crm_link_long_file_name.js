import { registry } from "@web/core/registry";

// A file of a mail with an 80-character name: the whole name is read, wrapped rather than cut
// with an ellipsis, and the full name is the tooltip. The name is given by the test
// (window.mclLongFileName).

function assertNotCut(element, where) {
    const name = window.mclLongFileName;
    if (element.textContent.trim().indexOf(name) === -1) {
        throw new Error(`${where}: the name reads "${element.textContent.trim()}"`);
    }
    if (element.scrollWidth > element.clientWidth + 1) {
        throw new Error(
            `${where}: the name is cut (${element.scrollWidth}px in ${element.clientWidth}px)`
        );
    }
}

registry.category("web_tour.tours").add("mail_crm_link_long_file_name_form", {
    steps: () => [
        {
            trigger: ".o_form_view .o_field_widget[name='file_ids'] .o_attachment .caption a",
            content: "The mail's file is shown in full on the form",
            run: function () {
                assertNotCut(this.anchor.closest(".caption"), "form");
                const title = this.anchor.closest(".o_attachment").getAttribute("title");
                if (title !== window.mclLongFileName) {
                    throw new Error(`form: the tooltip reads "${title}"`);
                }
            },
        },
    ],
});

registry.category("web_tour.tours").add("mail_crm_link_long_file_name_list", {
    steps: () => [
        {
            trigger: ".o_list_view .o_data_row td[name='name']",
            content: "The file is shown in full in the Files list",
            run: function () {
                assertNotCut(this.anchor, "Files list");
            },
        },
    ],
});

registry.category("web_tour.tours").add("mail_crm_link_long_file_name_timeline", {
    steps: () => [
        {
            trigger: ".o_mcl_timeline_mail:contains('Specifica') .o_mcl_timeline_head",
            content: "Unfold the mail on the deal's email timeline",
            run: "click",
        },
        {
            trigger: ".o_mcl_timeline_mail:contains('Specifica') .o_mcl_timeline_files a",
            content: "Its file is shown in full",
            run: function () {
                assertNotCut(this.anchor, "timeline");
                if (this.anchor.getAttribute("title") !== window.mclLongFileName) {
                    throw new Error(`timeline: the tooltip reads "${this.anchor.title}"`);
                }
            },
        },
    ],
});
