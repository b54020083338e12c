"""Step "publish" of the pipeline: a linked mail on its CRM cards.

One chatter entry per link (the mail as an email, its attachments shared, not copied), one
Email activity per incoming client mail for the responsible, and Odoo's own notification of
internal followers; nothing is ever sent to clients. Mail of the past (an initial import, a
re-link) is published as history: entries created in one batch, no activity, no notification.
Works inside the transaction it is given.
"""

import datetime

from markupsafe import Markup
from psycopg2.extras import execute_values

from odoo import api, fields, models

from .. import compat
from ..mailflow import addresses, classify, explain, outbox, policy

_EPOCH = datetime.datetime.min


class MailboxCardPublisher(models.AbstractModel):
    _name = "mailbox.card.publisher"
    _description = "Mailbox Pipeline: Publish on CRM Cards"

    @api.model
    def _publish(self, links, authors=None, history=False, notify_once=False, notified=None):
        """Show each new link's mail on its record; live mail also gets its Email activity.
        ``notify_once``: many mails linked in one go (by hand) notify each record once, by
        the newest of them; the others are shown on it as history. ``notified``: a dict
        the publisher fills with who it told about each mail (``{message id: [entry]}``,
        ``explain.notified``), for the mails' routing explanations."""
        if history:
            self._publish_history(links, authors or {})
            return
        self._publish_live(links, authors or {}, notify_once, notified)
        self._schedule_activities(links.message_id)

    @api.model
    def _author(self, message, authors):
        if message.send_user_id:  # written in the CRM: its writer, as Odoo shows a mail sent
            return message.send_user_id.partner_id  # from the chatter (the From's name too)
        author = authors.get(message.id)
        author = message._mcl_author() if author is None else author
        if message.direction == classify.OUTGOING and not author.user_ids:
            # sent from the mailbox's own address in a mail program: its owner wrote it, shown
            # as the user (name, avatar), not as a raw "Name <address>" of the mailbox
            mailbox = message.mailbox_id.sudo()
            owner = mailbox.owner_id
            if (
                owner.active
                and not owner.share
                and message.sender
                and message.sender == mailbox._mcl_address()
            ):
                return owner.partner_id
        return author

    # the chatter entry columns written for mail of the past (those of them that are columns
    # on this series: compat.stored_columns); every other column of mail_message is left to
    # its database default (NULL), as the ORM leaves it
    HISTORY_COLUMNS = (
        "model", "res_id", "record_name", "body", "subject", "message_type", "subtype_id",
        "email_from", "reply_to", "author_id", "message_id", "date", "mcl_message_id",
        "is_internal", "reply_to_force_new", "email_add_signature",
        "create_uid", "create_date", "write_uid", "write_date",
    )  # fmt: skip
    # and, where Odoo has them, the columns that show who a delivered mail went to (19)
    HISTORY_RECIPIENT_COLUMNS = tuple(compat.delivered_recipients("", ""))

    @api.model
    def _publish_history(self, links, authors):
        """Chatter entries of the past, without notifications (``message_post`` would
        notify followers of each one), written in one statement: the ORM's create of
        thousands of entries (its cache, its inverses, each body sanitized twice more) was
        the costliest step of an import. The rows are those ``mail.message.create`` writes for
        the same values (``test_history_entries_equal_orm_entries`` keeps it so)."""
        if not links:
            return
        self.env.flush_all()
        Entry = self.env["mail.message"]
        comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        now, uid = self.env.cr.now(), self.env.uid
        columns = compat.stored_columns(
            Entry, self.HISTORY_COLUMNS + self.HISTORY_RECIPIENT_COLUMNS
        )
        rows, files = [], []
        for link in links:
            message = link.message_id
            target = link._target()
            where = {"model": target._name, "res_id": target.id}
            values = {
                "model": target._name,
                "res_id": target.id,
                "record_name": target.display_name,
                "body": message.body_html or "",  # sanitized once, when the mail was stored
                "subject": message.subject or None,
                "message_type": "email",
                "subtype_id": comment,
                "email_from": message.email_from or None,
                "reply_to": message.reply_to or message.email_from or None,
                "author_id": self._author(message, authors).id or None,
                "message_id": message.message_id or Entry._get_message_id(where),
                "date": message.date or now,
                "mcl_message_id": message.id,
                "is_internal": False,
                "reply_to_force_new": False,
                "email_add_signature": True,
                "create_uid": uid,
                "create_date": now,
                "write_uid": uid,
                "write_date": now,
            }
            for column, value in compat.delivered_recipients(
                message.email_to, message.email_cc
            ).items():
                values[column] = value or None
            rows.append(tuple(values[column] for column in columns))
            files.append(message.attachment_ids.ids)
        cr = self.env.cr._obj
        entry_ids = [
            row[0]
            for row in execute_values(
                cr,
                f"INSERT INTO mail_message ({', '.join(columns)}) VALUES %s RETURNING id",
                rows,
                page_size=1000,
                fetch=True,
            )
        ]
        shared = [(e, a) for e, ids in zip(entry_ids, files, strict=True) for a in ids]
        if shared:
            execute_values(
                cr,
                "INSERT INTO message_attachment_rel (message_id, attachment_id) VALUES %s "
                "ON CONFLICT DO NOTHING",
                shared,
                page_size=1000,
            )
        execute_values(
            cr,
            "UPDATE mailbox_message_link AS l SET mail_message_id = v.entry "
            "FROM (VALUES %s) AS v(id, entry) WHERE l.id = v.id",
            list(zip(links.ids, entry_ids, strict=True)),
            page_size=1000,
        )
        links.invalidate_recordset(["mail_message_id"])
        for model in set(links.mapped(lambda link: link._target()._name)):
            self.env[model].invalidate_model(
                ["message_ids", "message_needaction", "message_needaction_counter"]
            )

    @api.model
    def _publish_live(self, links, authors, notify_once=False, notified=None):
        """A new client mail is told once: its entry on its main record (deal, else contact,
        else company; ``main_record``) notifies that record's internal followers and its
        responsible, as Odoo notifies (inbox, or email for who chose it); its entries on
        the other records are history, without notification: one mail linked to a contact,
        its company and a deal used to send three notifications. Nothing is ever sent to
        clients (``mail_crm_link_publish``, see ``drop_external_recipients``)."""
        quiet = links.browse()
        loud_by_record = {}  # record → [(link, record)], in the order of the mails
        for message in links.message_id:
            its = links.filtered(lambda link, m=message: link.message_id == m)
            main = self._main_record(message)
            loud = its.filtered(lambda link, r=main: link._target() == r)[:1]
            quiet |= its - loud
            if loud:
                loud_by_record.setdefault(main, []).append(loud)
        for record, louds in loud_by_record.items():
            if notify_once and len(louds) > 1:  # the newest tells; the others are history
                louds = sorted(louds, key=lambda link: (link.message_id.date or _EPOCH, link.id))
                quiet |= links.browse().union(*louds[:-1])
                louds = louds[-1:]
            for loud in louds:
                self._post_notified(loud, record, authors, notified)
        self._publish_history(quiet, authors)

    @api.model
    def _post_notified(self, link, record, authors, notified=None):
        message = link.message_id
        own = record._mcl_responsible_user()
        responsible = (
            own or message.mailbox_id.owner_id
            if message.direction == classify.INCOMING
            else self.env["res.users"]
        )
        readers = None
        if is_restricted(message):  # told only to who may read it (issue 23, review)
            candidates = record.message_partner_ids.user_ids | responsible
            readers = [
                user.partner_id.id
                for user in candidates.filtered(lambda u: u.active and not u.share)
                if message.with_user(user).has_access("read")
            ]
            responsible = responsible.filtered(lambda u: u.partner_id.id in readers)
        entry = record.with_context(
            mail_crm_link_publish=True,
            mail_crm_link_readers=readers,
            mail_create_nosubscribe=True,
            mail_post_autofollow=False,
            mail_notify_force_send=False,
        ).message_post(
            body=Markup(message.body_html or ""),  # sanitized when stored
            subject=message.subject or False,
            message_type="email",
            subtype_xmlid="mail.mt_comment",
            email_from=message.email_from or False,
            author_id=self._author(message, authors).id or False,
            partner_ids=responsible.filtered(lambda u: u.active and not u.share).partner_id.ids,
            attachment_ids=message.attachment_ids.ids,
            message_id=message.message_id or False,
            date=message.date,
            **compat.delivered_recipients(message.email_to, message.email_cc),
        )
        if notified is not None:
            self._note_notified(entry, message, record, responsible, own, notified)
        entry.sudo().mcl_message_id = message  # its visibility now follows the mail's
        link.mail_message_id = entry

    @api.model
    def _note_notified(self, entry, message, record, responsible, own, notified):
        """Who the posted ``entry`` told, for the mail's explanation, from what Odoo did (its
        notifications: inbox or email), not from what was asked: the responsible (or the
        mailbox's owner) first, if Odoo told them (not the author), then the record's
        followers Odoo told with them; at most ``MAX_NOTIFIED``. Clients are never told
        (``mail_crm_link_publish``)."""
        key = (record._name, record.id)
        told = entry.sudo().notification_ids.res_partner_id.user_ids.filtered(
            lambda u: u.active and not u.share
        )
        first = responsible.filtered(lambda u: u.active and not u.share) & told
        why = explain.AS_RESPONSIBLE if own else explain.AS_OWNER
        entries = [explain.notified(user.id, key, why) for user in first]
        entries += [
            explain.notified(user.id, key, explain.AS_FOLLOWER)
            for user in told.sorted("id")
            if user not in first
        ]
        notified.setdefault(message.id, []).extend(entries[: explain.MAX_NOTIFIED])

    # -- the delivery state of mail written in the CRM ---------------------------------------
    @api.model
    def _show_send_state(self, messages, failure=None, refused=(), reason=False):
        """Odoo's own delivery indicator on the chatter entries of mail written in the CRM
        (the envelope, its popover, the Resend dialog, the writer's failures in the
        messaging menu): one email ``mail.notification`` per recipient contact on each entry
        of the mail, in the mail's send state (``mailflow.outbox.notification_states``).
        ``failure``: why a failed mail did not leave; ``refused``: recipients refused while
        the mail left for the others; ``reason``: the sentence shown for a failure.

        The recipients are the contacts the CRM has for the To and Cc addresses (those the
        mailbox's outgoing policy just created included): none is created for the
        indicator, which must not change what the CRM holds. The writer is the author of the
        notifications of the entry on the mail's main record only, so that one failed mail
        counts once in their messaging menu."""
        messages = messages.sudo().filtered("send_state")
        entries = self.env["mail.message"].sudo().search([("mcl_message_id", "in", messages.ids)])
        if not entries:
            return
        Notification = self.env["mail.notification"].sudo()
        found = Notification.search([("mail_message_id", "in", entries.ids)])
        ours = found.filtered("mcl_send_state")
        uniform = len(set(messages.mapped("send_state"))) == 1 and not refused
        if (
            uniform
            and ours.mail_message_id == entries
            and not (failure and failure.kind == outbox.RECIPIENT)
        ):  # the same state for every recipient, on entries that show it (after the queue)
            states = outbox.notification_states(["*"], messages[:1].send_state, failure)
            ((status, failure_type),) = states.values()
            ours.write(
                {
                    "notification_status": status,
                    "failure_type": failure_type,
                    "failure_reason": reason if status == "exception" else False,
                }
            )
            entries._notify_message_notification_update()
            return
        existing = {(n.mail_message_id.id, n.res_partner_id.id): n for n in found}
        partners = self._recipient_partners(messages)
        vals_list, by_values = [], {}
        for message in messages:
            main = self._main_record(message)
            states = outbox.notification_states(
                list(partners[message.id]), message.send_state, failure, refused
            )
            for entry in entries.filtered(lambda e, m=message: e.mcl_message_id == m):
                on_main = (entry.model, entry.res_id) == (main._name, main.id)
                for address, (status, failure_type) in states.items():
                    partner = partners[message.id][address]
                    values = {
                        "notification_status": status,
                        "failure_type": failure_type,
                        "failure_reason": reason if status == "exception" else False,
                    }
                    notification = existing.get((entry.id, partner.id))
                    if notification is None:
                        existing[(entry.id, partner.id)] = Notification  # one per contact
                        vals_list.append(
                            {
                                **values,
                                "mail_message_id": entry.id,
                                "res_partner_id": partner.id,
                                "notification_type": "email",
                                "is_read": True,  # a state to show, not news for the contact
                                "mcl_send_state": True,
                                "author_id": message.send_user_id.partner_id.id
                                if on_main
                                else False,
                            }
                        )
                    elif notification.mcl_send_state:
                        key = tuple(values.items())
                        by_values[key] = by_values.get(key, Notification) | notification
        Notification.create(vals_list)
        for key, notifications in by_values.items():
            notifications.write(dict(key))
        entries._notify_message_notification_update()  # the open chatters and menus update

    @api.model
    def _recipient_partners(self, messages):
        """``{mail id: {address: res.partner}}``: one contact per To/Cc address that has one
        (linked to the mail first, then a person, then a company); the mailbox's own address
        (its copy in Cc) left out."""
        wanted, forms = {}, set()
        for message in messages:
            mailbox = message.mailbox_id
            own = mailbox._mcl_address()
            found = addresses.parse_list([message.email_to or "", message.email_cc or ""])
            wanted[message.id] = [a for _name, a in found if a != own]
            for address in wanted[message.id]:
                forms.update(addresses.lookup_forms(address, mailbox.fold_plus))
        by_form = self.env["res.partner"].sudo()._mcl_find_by_addresses(sorted(forms))
        result = {}
        for message in messages:
            linked = message.link_ids.partner_id
            chosen, used = {}, set()
            for address in wanted[message.id]:
                found = (
                    self.env["res.partner"]
                    .sudo()
                    .union(
                        *(
                            by_form.get(form, self.env["res.partner"])
                            for form in addresses.lookup_forms(
                                address, message.mailbox_id.fold_plus
                            )
                        )
                    )
                    .sorted("id")
                )
                partner = (
                    (found & linked)[:1]
                    or found.filtered(lambda p: not p.is_company)[:1]
                    or found[:1]
                )
                if partner and partner.id not in used:  # one notification per contact
                    used.add(partner.id)
                    chosen[address] = partner
            result[message.id] = chosen
        return result

    @api.model
    def _schedule_activities(self, messages):
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
            record = self._main_record(message)
            if not record:
                continue
            user = record._mcl_responsible_user() or mailbox.owner_id
            # written for its reader: in the responsible's language, not the sync's
            in_lang = self.with_context(lang=user.lang or self.env.lang)
            summary = message.subject or in_lang.env._("Email")
            if is_restricted(message):  # the activity is read by all who read the record
                summary = in_lang.env._("Email")
            if message.needs_deal_choice:
                summary = in_lang.env._("Choose a deal: %s", summary)
            # its responsible was told by the mail's entry (``_post_notified``): no second
            # "activity assigned" notification for the same mail
            message.activity_id = record.with_context(
                mail_activity_quick_update=True
            ).activity_schedule(
                activity_type_id=activity_type.id,
                date_deadline=policy.next_working_day(today, mailbox.activity_days),
                summary=summary[:200],
                note=False if is_restricted(message) else in_lang._activity_note(message),
                user_id=user.id,
            )

    @api.model
    def _main_record(self, message):
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
    """Recipients of a chatter entry published from a mailbox: internal users only, and for
    a mail not every employee may read (``mail_crm_link_readers``: the partners who may),
    only those: a notification carries the body whatever the record rules say."""
    if env.context.get("mail_crm_link_publish"):
        recipients = [r for r in recipients if not r.get("share")]
        readers = env.context.get("mail_crm_link_readers")
        if readers is not None:
            recipients = [r for r in recipients if r.get("id") in readers]
    return recipients


def is_restricted(message):
    """Whether some employees may not read ``message`` (a ``mailbox.message``): a private
    mail, mail of a personal mailbox, or of a mailbox with strict visibility."""
    mailbox = message.mailbox_id
    return bool(message.private or mailbox.mailbox_access != "shared" or mailbox.strict_visibility)
