from odoo import api, fields, models

from ..mailflow import rules

JOB_KINDS = [("relink", "Re-link"), ("private", "Apply Private Correspondents")]


class MailboxSyncJob(models.Model):
    """Work over a whole mailbox's stored mail (re-link, private correspondents), done in the
    background by the sync cron in bounded, committed batches (``mailbox.sync.run_jobs``),
    never inside a user's request. Its progress shows on the mailbox."""

    _name = "mailbox.sync.job"
    _description = "Mailbox Background Job"
    _order = "id"

    mailbox_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    kind = fields.Selection(JOB_KINDS, required=True)
    message_ids = fields.Json(help="Only these mails (empty: every mail of the mailbox).")
    last_message_id = fields.Integer(help="Mails up to this id are done.")
    done = fields.Integer(readonly=True)
    total = fields.Integer(readonly=True)
    state = fields.Selection(
        [("pending", "Pending"), ("done", "Done")], default="pending", required=True, index=True
    )
    progress = fields.Char(compute="_compute_progress")

    @api.depends("done", "total", "kind", "state")
    def _compute_progress(self):
        labels = dict(self._fields["kind"]._description_selection(self.env))
        for job in self:
            done, total = rules.progress(job.done, job.total)
            job.progress = self.env._(
                "%(job)s: %(done)s / %(total)s", job=labels.get(job.kind), done=done, total=total
            )

    @api.model
    def _schedule(self, mailboxes, kind, messages=None):
        """A job per mailbox (one pending job of a kind per mailbox), and the sync cron
        asked to run soon. Asking again while a job is pending never restarts it: the mails
        it already covers keep its progress; mails it does not cover widen it (from the
        first of them on, or from the start when the whole mailbox is asked for)."""
        jobs = self.browse()
        for mailbox in mailboxes:
            ids = (
                messages.filtered(lambda m, mb=mailbox: m.mailbox_id == mb).ids if messages else []
            )
            if messages and not ids:
                continue
            job = self.search(
                [("mailbox_id", "=", mailbox.id), ("kind", "=", kind), ("state", "=", "pending")],
                limit=1,
            )
            covered = job and (not job.message_ids or (ids and set(ids) <= set(job.message_ids)))
            if covered:
                jobs |= job  # already asked for: it goes on where it is
                continue
            if job and not ids:  # the whole mailbox now: from the start, once
                scope, cursor = False, 0
            elif job:  # more mails: the new ones from the first of them on
                scope = sorted(set(job.message_ids) | set(ids))
                cursor = min(job.last_message_id, min(ids) - 1)
            else:
                scope, cursor = ids or False, 0
            domain = self._message_domain(mailbox, self.env["mailbox.message"].browse(scope or []))
            vals = {
                "last_message_id": cursor,
                "message_ids": scope,
                "total": self.env["mailbox.message"].search_count(domain),
                "done": self.env["mailbox.message"].search_count(domain + [("id", "<=", cursor)]),
            }
            if job:
                job.write(vals)
            else:
                job = self.create({**vals, "mailbox_id": mailbox.id, "kind": kind})
            jobs |= job
        self.env.ref("mail_crm_link.ir_cron_mailbox_sync")._trigger()
        return jobs

    @api.model
    def _message_domain(self, mailbox, messages=None):
        domain = [("mailbox_id", "=", mailbox.id), ("state", "!=", "error")]
        if messages:
            domain.append(("id", "in", messages.ids))
        return domain

    def _next_batch(self, size):
        """The next mails to do, in id order (resumable after a crash: by id)."""
        self.ensure_one()
        domain = self._message_domain(self.mailbox_id) + [("id", ">", self.last_message_id)]
        if self.message_ids:
            domain.append(("id", "in", self.message_ids))
        return self.env["mailbox.message"].search(domain, order="id", limit=size)

    def _apply(self, messages):
        """Do the job on ``messages`` (in the caller's transaction) and move the cursor."""
        self.ensure_one()
        if self.kind == "relink":
            messages._mcl_relink()
        else:
            self.mailbox_id._mcl_apply_private(messages)
        done, _total = rules.progress(self.done + len(messages), self.total)
        self.write({"last_message_id": messages[-1:].id or self.last_message_id, "done": done})
