from odoo import api, fields, models
from odoo.exceptions import AccessError


class MailboxSendBatch(models.Model):
    """One mass sending from a list: its mails are independent units of the outbox (one per
    recipient), so one failure never undoes or holds up the others. Shows the progress and
    each recipient's result; records that got no mail are listed with the reason."""

    _name = "mailbox.send.batch"
    _description = "Mass Sending From the CRM"
    _order = "id desc"

    name = fields.Char(required=True, readonly=True)
    user_id = fields.Many2one(
        "res.users", string="Sent By", default=lambda self: self.env.user, readonly=True
    )
    mailbox_id = fields.Many2one("fetchmail.server", readonly=True)
    template_id = fields.Many2one("mail.template", readonly=True)
    record_count = fields.Integer(string="Selected Records", readonly=True)
    message_ids = fields.One2many("mailbox.message", "send_batch_id", string="Mails")
    skipped_count = fields.Integer(string="Not Written To", readonly=True)
    skipped_note = fields.Text(string="Records Without a Mail", readonly=True)
    count_queued = fields.Integer(compute="_compute_counts", string="Waiting")
    count_sent = fields.Integer(compute="_compute_counts", string="Sent")
    count_failed = fields.Integer(compute="_compute_counts", string="Failed")
    progress = fields.Float(compute="_compute_counts", string="Progress (%)")
    state = fields.Selection(
        [("sending", "Sending"), ("done", "Done")], compute="_compute_counts", string="Status"
    )

    @api.depends("message_ids.send_state")
    def _compute_counts(self):
        groups = (
            self.env["mailbox.message"]
            .sudo()
            ._read_group(
                [("send_batch_id", "in", self.ids)], ["send_batch_id", "send_state"], ["__count"]
            )
        )
        counts = {(batch.id, state): count for batch, state, count in groups}
        for batch in self:
            sent = counts.get((batch.id, "sent"), 0)
            failed = counts.get((batch.id, "failed"), 0)
            waiting = counts.get((batch.id, "queued"), 0) + counts.get((batch.id, "sending"), 0)
            total = sent + failed + waiting
            batch.count_sent = sent
            batch.count_failed = failed
            batch.count_queued = waiting
            batch.progress = 100.0 * (sent + failed) / total if total else 100.0
            batch.state = "sending" if waiting else "done"

    def action_view_mails(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_crm_link.mailbox_message_action"
        )
        action.update(
            name=self.name,
            domain=[("send_batch_id", "=", self.id)],
            context={"create": False},
        )
        return action

    def action_retry_failed(self):
        """Send this batch's failed mails again (the sender or a sales manager)."""
        self.check_access("write")
        if not (
            self.env.user.has_group("sales_team.group_sale_manager")
            or all(batch.user_id == self.env.user for batch in self)
        ):
            raise AccessError(self.env._("Only the sender or a sales manager can retry."))
        failed = self.sudo().message_ids.filtered(lambda m: m.send_state == "failed")
        if failed:
            Outbox = self.env["mailbox.outbox"]
            for mailbox in failed.mailbox_id:
                Outbox.check_server(mailbox)
            Outbox.requeue(failed)
        return True
