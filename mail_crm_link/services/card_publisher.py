"""Step "publish" of the pipeline: a linked mail on its CRM cards.

One chatter entry per link (the mail as an email, its attachments shared, not copied), one
Email activity per incoming client mail for the responsible, and Odoo's own notification of
internal followers; nothing is ever sent to clients. Mail of the past (an initial import, a
re-link) is published as history: entries created in one batch, no activity, no notification.
Works inside the transaction it is given.
"""

from markupsafe import Markup
from psycopg2.extras import execute_values

from odoo import Command, api, fields, models

from .. import compat
from ..mailflow import classify, policy


class MailboxCardPublisher(models.AbstractModel):
    _name = "mailbox.card.publisher"
    _description = "Mailbox Pipeline: Publish on CRM Cards"

    @api.model
    def publish(self, links, authors=None, history=False):
        """Show each new link's mail on its record; live mail also gets its Email activity."""
        if history:
            self._publish_history(links, authors or {})
            return
        self._publish_live(links, authors or {})
        self.schedule_activities(links.message_id)

    @api.model
    def _author(self, message, authors):
        author = authors.get(message.id)
        return message._mcl_author() if author is None else author

    @api.model
    def _publish_history(self, links, authors):
        """Chatter entries of the past, created in one batch without notifications
        (``message_post`` would notify followers of each one)."""
        if not links:
            return
        comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        vals_list = []
        for link in links:
            message = link.message_id
            target = link._target()
            vals_list.append(
                {
                    "model": target._name,
                    "res_id": target.id,
                    "record_name": target.display_name,
                    "body": "",  # set below, without sanitizing it a second and third time
                    "subject": message.subject or False,
                    "message_type": "email",
                    "subtype_id": comment,
                    "email_from": message.email_from or False,
                    "reply_to": message.reply_to or message.email_from or False,
                    "author_id": self._author(message, authors).id or False,
                    "message_id": message.message_id or False,
                    "date": message.date,
                    "attachment_ids": [Command.set(message.attachment_ids.ids)],
                    "mcl_message_id": message.id,
                    **compat.delivered_recipients(message.email_to, message.email_cc),
                }
            )
        entries = self.env["mail.message"].sudo().create(vals_list)
        for link, entry in zip(links, entries, strict=True):
            link.mail_message_id = entry
        self._set_bodies(entries, [link.message_id.body_html or "" for link in links])

    @api.model
    def _set_bodies(self, entries, bodies):
        """The chatter entries' bodies are the stored mail's, sanitized once when the mail was
        stored (``mailbox.message.store``); the ORM would sanitize each copy twice more (the
        costliest step of an import), so they are written in one statement."""
        self.env.flush_all()
        execute_values(
            self.env.cr._obj,
            "UPDATE mail_message AS m SET body = v.body FROM (VALUES %s) AS v(id, body) "
            "WHERE m.id = v.id",
            [(entry.id, body) for entry, body in zip(entries, bodies, strict=True)],
            template="(%s, %s)",
        )
        entries.invalidate_recordset(["body"])

    @api.model
    def _publish_live(self, links, authors):
        """Internal followers are notified as Odoo notifies them; nothing is sent to clients
        (``mail_crm_link_publish``, see ``drop_external_recipients``)."""
        for link in links:
            message = link.message_id
            record = link._target().with_context(
                mail_crm_link_publish=True,
                mail_create_nosubscribe=True,
                mail_post_autofollow=False,
                mail_notify_force_send=False,
            )
            entry = record.message_post(
                body=Markup(message.body_html or ""),  # sanitized when stored
                subject=message.subject or False,
                message_type="email",
                subtype_xmlid="mail.mt_comment",
                email_from=message.email_from or False,
                author_id=self._author(message, authors).id or False,
                attachment_ids=message.attachment_ids.ids,
                message_id=message.message_id or False,
                date=message.date,
                **compat.delivered_recipients(message.email_to, message.email_cc),
            )
            entry.sudo().mcl_message_id = message  # its visibility now follows the mail's
            link.mail_message_id = entry

    @api.model
    def schedule_activities(self, messages):
        """An incoming client mail puts one Email activity on its main record (deal, else
        contact, else company) for that record's responsible; pending until processed.
        Mail of the past (``history``) never gets one."""
        today = fields.Date.context_today(self)
        activity_type = self.env.ref("mail.mail_activity_data_email", raise_if_not_found=False)
        for message in messages:
            mailbox = message.mailbox_id
            if (
                not activity_type
                or not mailbox.activity_enabled
                or message.history
                or message.direction != classify.INCOMING
                or message.mail_kind != classify.CLIENT
                or message.activity_id
                or message.processed
            ):
                continue
            record = self.main_record(message)
            if not record:
                continue
            summary = message.subject or self.env._("Email")
            if message.needs_deal_choice:
                summary = self.env._("Choose a deal: %s", summary)
            message.activity_id = record.activity_schedule(
                activity_type_id=activity_type.id,
                date_deadline=policy.next_working_day(today, mailbox.activity_days),
                summary=summary[:200],
                note=self._activity_note(message),
                user_id=(record._mcl_responsible_user() or mailbox.owner_id).id,
            )

    @api.model
    def main_record(self, message):
        links = message.link_ids
        leads = links.lead_id.sorted(lambda lead: (lead.type != "opportunity", -lead.id))
        persons = links.partner_id.filtered(lambda p: not p.is_company)
        return leads[:1] or persons[:1] or links.partner_id[:1]

    @api.model
    def _activity_note(self, message):
        return self.env._(
            "Incoming email from %(sender)s in mailbox %(mailbox)s.",
            sender=message.email_from or "?",
            mailbox=message.mailbox_id.name,
        )


def drop_external_recipients(env, recipients):
    """Recipients of a chatter entry published from a mailbox: internal users only."""
    if env.context.get("mail_crm_link_publish"):
        return [r for r in recipients if not r.get("share")]
    return recipients
