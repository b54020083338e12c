import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..mailflow import addresses
from ..services.outbox import OutgoingMail

_logger = logging.getLogger(__name__)


class MailboxSendBatch(models.Model):
    """One mass sending from a list: each record gets a mail of its own, an independent unit
    of the outbox, so one failure never undoes or holds up the others.

    The list is prepared (template filled in, mail built, stored on its card, queued) in
    chunks: right away in the request for a short list, by the outbox cron in committed
    chunks for a long one (``_prepare_next``); the outbox then sends each mail. The form shows
    the progress, each recipient's state and reason, and the records that got no mail."""

    _name = "mailbox.send.batch"
    _description = "Mass Sending From the CRM"
    _order = "id desc"

    name = fields.Char(required=True, readonly=True)
    user_id = fields.Many2one(
        "res.users", string="Sent By", default=lambda self: self.env.user, readonly=True
    )
    mailbox_id = fields.Many2one("fetchmail.server", readonly=True)
    template_id = fields.Many2one("mail.template", readonly=True)
    sender_mode = fields.Char(readonly=True, default="mailbox")
    res_model = fields.Char(readonly=True)
    res_ids = fields.Json(readonly=True)
    record_count = fields.Integer(string="Selected Records", readonly=True)
    prepared_count = fields.Integer(string="Prepared", readonly=True)
    preparing = fields.Boolean(readonly=True, index="btree_not_null")
    message_ids = fields.One2many("mailbox.message", "send_batch_id", string="Mails")
    skipped_count = fields.Integer(string="Not Written To", readonly=True)
    skipped_note = fields.Text(string="Records Without a Mail", readonly=True)
    count_queued = fields.Integer(compute="_compute_counts", string="Waiting")
    count_sent = fields.Integer(compute="_compute_counts", string="Sent")
    count_failed = fields.Integer(compute="_compute_counts", string="Failed")
    progress = fields.Float(compute="_compute_counts", string="Progress (%)")
    state = fields.Selection(
        [("preparing", "Preparing"), ("sending", "Sending"), ("done", "Done")],
        compute="_compute_counts",
        string="Status",
    )

    # kept by the outbox only: whatever a caller gives for them on create is replaced by the
    # values of a new mass sending, and only the superuser (the outbox) writes them
    BOOKKEEPING = ("preparing", "prepared_count", "record_count", "skipped_count", "skipped_note")

    @api.model_create_multi
    def create(self, vals_list):
        """A mass sending is always the current user's: the cron prepares it with the rights
        (and, with "Send As: My own address", the address) of its Sent By user. Its
        bookkeeping starts from nothing, whatever a caller gives (one created over RPC with
        ``prepared_count=-1000`` used to stop the outbox for everybody). Only the outbox
        changes it afterwards (as superuser): users have no write access."""
        if not self.env.su:
            vals_list = [
                {
                    **{k: v for k, v in vals.items() if k not in self.BOOKKEEPING},
                    "user_id": self.env.uid,
                    "preparing": True,
                    "prepared_count": 0,
                    "record_count": len(vals.get("res_ids") or [])
                    if isinstance(vals.get("res_ids"), list)
                    else 0,
                    "skipped_count": 0,
                    "skipped_note": False,
                }
                for vals in vals_list
            ]
        batches = super().create(vals_list)
        batches._check_chosen_records()
        return batches

    def write(self, vals):
        if not self.env.su and set(vals) & {*self.BOOKKEEPING, "user_id", "res_ids", "res_model"}:
            raise AccessError(self.env._("The progress of a mass sending is kept by the outbox."))
        result = super().write(vals)
        if {"mailbox_id", "template_id"} & set(vals):
            self._check_chosen_records()
        return result

    def _check_chosen_records(self):
        """What a user names in a mass sending is theirs to read (its many-to-ones are shown
        with their names, read as superuser). Checked here as the caller, not in a
        constraint: Odoo 19 runs constraints as superuser."""
        if not self.env.su:
            for batch in self:
                for chosen in (batch.mailbox_id, batch.template_id):
                    if chosen:
                        chosen.check_access("read")

    @api.constrains("sender_mode")
    def _check_sender_mode(self):
        """One of the composer's choices (a value check: fine as superuser)."""
        if any(b.sender_mode not in ("mailbox", "user", "template") for b in self):
            raise ValidationError(
                self.env._(
                    "A mass sending leaves from the CRM mailbox, from its sender's own address "
                    "or from its template's address."
                )
            )

    @api.constrains("res_model", "res_ids")
    def _check_records(self):
        """The cards a mass sending writes to: contacts or leads, a list of ids (the outbox
        cron prepares it; anything else would stop the cron for everybody)."""
        for batch in self:
            ids = batch.res_ids or []
            if batch.res_model not in ("res.partner", "crm.lead") or not (
                isinstance(ids, list) and all(isinstance(i, int) for i in ids)
            ):
                raise ValidationError(
                    self.env._("A mass sending writes to a list of contacts or leads.")
                )

    @api.depends("message_ids.send_state", "prepared_count", "skipped_count", "preparing")
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
            batch.count_sent = sent
            batch.count_failed = failed
            batch.count_queued = waiting
            total = batch.record_count or (sent + failed + waiting + batch.skipped_count)
            finished = sent + failed + batch.skipped_count
            batch.progress = 100.0 * finished / total if total else 100.0
            batch.state = "preparing" if batch.preparing else ("sending" if waiting else "done")

    # -- preparing, in chunks ------------------------------------------------------------
    def _prepare_next(self, limit, after_commit=True):
        """Prepare the mails of the next ``limit`` records of the list, on behalf of the user
        who sent it (their rights apply): template filled in, mail built, stored on its card
        and queued. A record that cannot get a mail is listed with the reason; the others go
        on. Works inside the transaction it is given."""
        self.ensure_one()
        done, ids, total = self._next_ids(limit)
        records = self.env[self.res_model].browse(ids).exists()
        readable = records._filtered_access("read")
        unreadable = self.env._("not readable for you")  # outside the f-string: extracted
        skipped = [  # by id: the name of a card the user may not read is not theirs to see
            f"#{record.id}: {unreadable}" for record in records - readable
        ]
        mailbox = self.mailbox_id.sudo()
        mails = []
        if readable:
            self.mailbox_id.check_access("read")
            self.template_id.check_access("read")
            rendered = self._render_all(readable)
            for record in readable:
                values = rendered[record.id]
                try:
                    if isinstance(values, Exception):
                        raise UserError(
                            self.env._("The template could not be filled in: %s", values)
                        )
                    with self.env.cr.savepoint():  # one recipient's failure is its own
                        mails.append(self._build_one(mailbox, record, values))
                except UserError as exc:
                    skipped.append(f"{record.display_name}: {exc.args[0]}")
                except Exception as exc:  # any data of one record: it alone fails
                    _logger.info(
                        "mass sending %s: record %s skipped", self.id, record.id, exc_info=True
                    )
                    skipped.append(
                        f"{record.display_name!r}: "
                        + self.env._("the mail could not be written: %s", exc)
                    )
        self.sudo().write(
            {
                "prepared_count": done + len(ids),
                "preparing": done + len(ids) < total,
                "skipped_count": max(self.skipped_count, 0) + len(skipped),
                "skipped_note": "\n".join(filter(None, [self.skipped_note, *skipped])) or False,
            }
        )
        if mails:
            self.env["mailbox.outbox"]._queue(
                mailbox, mails, batch=self, history=True, after_commit=after_commit
            )
        return len(ids)

    def _skip_next(self, limit, exc):
        """The next ``limit`` records could not be prepared (an internal error): listed as
        not written to, with the reason."""
        self.ensure_one()
        done, ids, total = self._next_ids(limit)
        reason = self.env._(
            "internal error of mail_crm_link, not sent (see the server log): %s", exc
        )
        records = self.env[self.res_model].sudo().browse(ids).exists()
        readable = records.with_user(self.user_id)._filtered_access("read")
        names = [f"{r.display_name if r in readable else f'#{r.id}'}: {reason}" for r in records]
        self.sudo().write(
            {
                "prepared_count": done + len(ids),
                "preparing": done + len(ids) < total,
                "skipped_count": max(self.skipped_count, 0) + len(ids),
                "skipped_note": "\n".join(filter(None, [self.skipped_note, *names])) or False,
            }
        )

    def _next_ids(self, limit):
        """``(done, ids, total)``: the records of the next step, from a list and a count
        taken as they are stored, whatever they hold: a list that is not a list of ids is
        empty, a count is kept between 0 and the list's length, a step is one record at
        least. So each step progresses, and the last one ends the preparing."""
        ids = self.res_ids if isinstance(self.res_ids, list) else []
        ids = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
        total = len(ids)
        done = min(max(self.prepared_count or 0, 0), total)
        return done, ids[done : done + max(int(limit or 1), 1)], total

    def _stop_preparing(self):
        """Stop preparing (the outbox saw a step that did not progress): what was not
        prepared is counted as not written to."""
        self.ensure_one()
        done, _ids, total = self._next_ids(1)
        left = total - done
        self.sudo().write(
            {
                "preparing": False,
                "prepared_count": total,
                "skipped_count": max(self.skipped_count, 0) + left,
                "skipped_note": "\n".join(
                    filter(
                        None,
                        [
                            self.skipped_note,
                            self.env._("%s records not prepared (internal error).", left)
                            if left
                            else False,
                        ],
                    )
                ),
            }
        )

    def _render_all(self, records):
        """{record id: {field: value}} from the template, one rendering per field for all
        the records; when that fails, record by record (a failure then concerns one record:
        its value is the exception)."""
        template = self.template_id
        names = ["subject", "body_html"]
        if self.sender_mode == "template":
            names.append("email_from")
        try:
            by_field = {name: template._render_field(name, records.ids) for name in names}
            return {rid: {n: by_field[n][rid] for n in names} for rid in records.ids}
        except Exception:  # one record's data must not stop the others
            _logger.info("template %s: rendering record by record", template.id, exc_info=True)
        result = {}
        for rid in records.ids:
            try:
                result[rid] = {n: template._render_field(n, [rid])[rid] for n in names}
            except Exception as exc:  # noqa: BLE001
                result[rid] = exc
        return result

    def _build_one(self, mailbox, record, values):
        """One recipient's mail (an :data:`OutgoingMail`); UserError says why there is none."""
        email_to = record._mcl_client_address()
        if not email_to:
            raise UserError(self.env._("no email address"))
        Compose = self.env["mailbox.compose"]
        composer = Compose.new(
            {
                "res_model": record._name,
                "res_id": record.id,
                "mailbox_id": mailbox.id,
                "email_to": email_to,
                "subject": values["subject"] or "-",
                "sender_mode": self.sender_mode,
                "template_id": self.template_id.id,
            }
        )
        if self.sender_mode == "template":
            sender = addresses.normalize(values.get("email_from") or "")
            if not sender:
                raise UserError(self.env._("There is no address to send this mail from."))
        else:
            sender = composer._sender(mailbox)
        composer._check_recipients(mailbox)
        raw, open_token = Compose._build_mail(
            mailbox,
            sender,
            record._name,
            record.id,
            addresses.parse_list([email_to]),
            [],
            values["subject"] or "-",
            values["body_html"],
            [],
        )
        return OutgoingMail(raw, record, open_token)

    # -- buttons ---------------------------------------------------------------------------
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
        self.check_access("read")
        if not (
            self.env.user.has_group("sales_team.group_sale_manager")
            or all(batch.user_id == self.env.user for batch in self)
        ):
            raise AccessError(self.env._("Only the sender or a sales manager can retry."))
        failed = self.sudo().message_ids.filtered(lambda m: m.send_state == "failed")
        if failed:
            Outbox = self.env["mailbox.outbox"]
            for mailbox in failed.mailbox_id:
                Outbox._check_server(mailbox)
            Outbox._requeue(failed)
        return True
