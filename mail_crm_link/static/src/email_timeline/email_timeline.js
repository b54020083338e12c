import { Component, markup, onWillStart, onWillUpdateProps, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { usePopover } from "@web/core/popover/popover_hook";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

const PAGE = 20;

/** "Why here?": the mail's routing explanation, worded by the server in the user's language. */
export class WhyHerePopover extends Component {
    static template = "mail_crm_link.WhyHerePopover";
    static props = { lines: Array, close: { type: Function, optional: true } };
}

/**
 * The email timeline of a CRM card (lead, deal, contact, company): the card's mail newest
 * first, as ``mailbox.timeline.read_timeline`` returns it (read with the user's rights),
 * each with its direction, participants, state and files; a click unfolds the body and the
 * actions (Reply, Forward, Mark Processed, Remove from Card, Open in Mailbox).
 */
export class EmailTimeline extends Component {
    static template = "mail_crm_link.EmailTimeline";
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.dialog = useService("dialog");
        this.state = useState({ mails: [], total: 0, loaded: false, open: {} });
        this.whyPopover = usePopover(WhyHerePopover, { position: "bottom" });
        onWillStart(() => this.load(this.props));
        onWillUpdateProps((next) => {
            if (next.record.resId !== this.props.record.resId) {
                return this.load(next);
            }
        });
    }

    get resModel() {
        return this.props.record.resModel;
    }

    get resId() {
        return this.props.record.resId;
    }

    get noSubject() {
        return _t("(no subject)");
    }

    get cardContext() {
        return { mcl_res_model: this.resModel, mcl_res_id: this.resId };
    }

    async load(props = this.props, more = false) {
        const { resModel, resId } = props.record;
        if (!resId) {
            Object.assign(this.state, { mails: [], total: 0, loaded: true });
            return;
        }
        const offset = more ? this.state.mails.length : 0;
        const limit = more ? PAGE : Math.max(PAGE, this.state.mails.length);
        const result = await this.orm.call("mailbox.timeline", "read_timeline", [
            resModel,
            resId,
            limit,
            offset,
        ]);
        const mails = result.mails.map((mail) => ({ ...mail, body: markup(mail.body) }));
        this.state.mails = more ? [...this.state.mails, ...mails] : mails;
        this.state.total = result.total;
        this.state.loaded = true;
    }

    onWhyHere(ev, mail) {
        if (this.whyPopover.isOpen) {
            this.whyPopover.close();
            return;
        }
        this.whyPopover.open(ev.currentTarget, { lines: mail.why || [] });
    }

    toggle(mail) {
        this.state.open[mail.id] = !this.state.open[mail.id];
    }

    formatDate(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : "";
    }

    directionLabel(mail) {
        return mail.direction === "outgoing" ? _t("Sent") : _t("Received");
    }

    stateLabel(mail) {
        return {
            pending: _t("Pending"),
            processed: _t("Processed"),
            sent: _t("Sent"),
            queued: _t("Queued"),
            failed: _t("Failed"),
        }[mail.state];
    }

    stateClass(mail) {
        return {
            pending: "text-bg-warning",
            processed: "text-bg-success",
            sent: "text-bg-info",
            queued: "text-bg-secondary",
            failed: "text-bg-danger",
        }[mail.state];
    }

    formatSize(size) {
        if (!size) {
            return "";
        }
        const units = [_t("B"), _t("KB"), _t("MB"), _t("GB")];
        let value = size;
        let unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
    }

    /** The card's own counters and activities, unless the user is editing it. */
    async refreshCard() {
        const record = this.props.record;
        if (record.resId && !(await record.isDirty())) {
            await record.load();
        }
    }

    async doAction(action) {
        await this.action.doAction(action, {
            onClose: async () => {
                await this.load();
                await this.refreshCard();
            },
        });
    }

    async onReply(mail) {
        const action = await this.orm.call("mailbox.message", "action_reply", [[mail.id]], {
            context: this.cardContext,
        });
        await this.doAction(action);
    }

    async onForward(mail) {
        await this.doAction({
            type: "ir.actions.act_window",
            name: _t("Forward"),
            res_model: "mailbox.compose",
            views: [[false, "form"]],
            target: "new",
            context: {
                mcl_forward_id: mail.id,
                default_res_model: this.resModel,
                default_res_id: this.resId,
            },
        });
    }

    async onProcess(mail) {
        await this.orm.call("mailbox.message", "action_mark_processed", [[mail.id]]);
        await this.load();
        await this.refreshCard(); // the card's activities change too
    }

    onRemove(mail) {
        this.dialog.add(ConfirmationDialog, {
            body: _t(
                "Remove this mail from this card? Its chatter entry and its pending activity here go; the mail stays in its mailbox and on its other records."
            ),
            confirmLabel: _t("Remove from Card"),
            confirm: async () => {
                await this.orm.call("mailbox.message", "action_remove_from_record", [[mail.id]], {
                    context: this.cardContext,
                });
                this.notification.add(_t("The mail was removed from this card."), {
                    type: "info",
                });
                await this.load();
                await this.refreshCard();
            },
            cancel: () => {},
        });
    }

    async onOpen(mail) {
        await this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "mailbox.message",
            res_id: mail.id,
            views: [[false, "form"]],
            target: "current",
            context: this.cardContext,
        });
    }

    async onOpenRecord(target) {
        await this.action.doAction({
            type: "ir.actions.act_window",
            res_model: target.model,
            res_id: target.id,
            views: [[false, "form"]],
            target: "current",
        });
    }
}

registry.category("view_widgets").add("mcl_email_timeline", { component: EmailTimeline });
