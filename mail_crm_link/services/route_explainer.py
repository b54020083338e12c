"""The routing explanation of a mail in words: "Why here?" on the mail and on the card.

The pipeline records its decisions in ``mailbox.message.route`` (``mailflow.explain``); this
service words them at display time, in the reader's language, with the reader's rights: a
record the reader may not read is named as such, never by its name. What is not recorded but
is the mail's state now is added here: links made by hand, an error, the visibility.
"""

from markupsafe import Markup, escape

from odoo import api, models
from odoo.tools import format_date, format_datetime

from ..mailflow import explain


class MailboxRouteExplainer(models.AbstractModel):
    _name = "mailbox.route.explainer"
    _description = "Mailbox Pipeline: Explain a Mail's Routing"

    @api.model
    def _lines(self, message):
        """The explanation of ``message`` (read as the current user): a list of sentences."""
        return self._lines_of(message).get(message.id, [])

    @api.model
    def _lines_of(self, messages):
        """``{message id: [sentence]}``: the explanations of a page of mails, worded at once.
        The catalogue and the labels are made once per call; the records every mail names
        are checked and read once per model (``_names_of``), the earlier mails of their
        threads found by one search: the cost does not grow with the number of mails."""
        words = self._words()
        coded, links, refs, references = {}, {}, set(), set()
        for message in messages:
            route = message.route if isinstance(message.route, dict) else {}
            # what the mail is on now (whoever linked it): a later link makes history of a
            # removal or a dismissal
            linked = [(link._target()._name, link._target().id) for link in message.sudo().link_ids]
            coded[message.id] = explain.lines(route, message.mail_kind, linked, message.state)
            links[message.id] = message.link_ids.filtered(lambda li: li.link_type == "manual")
            for code, params in coded[message.id]:
                if code == "thread" and params.get("reference"):
                    references.add(params["reference"])
                for value in params.values():
                    if isinstance(value, explain.Records):
                        refs.update(value.refs)
            for link in links[message.id]:
                refs.add((link._target()._name, link._target().id))
        names = self._names_of(refs)
        earlier = self._earlier_mails(references)
        out = {}
        for message in messages:
            lines = []
            if message.state == "error":
                lines.append(words["error"] % (message.error_reason or ""))
            if message.damaged:
                lines.append(words["damaged"])
            for code, params in coded[message.id]:
                line = self._word(words, code, params, names, earlier)
                if line:
                    lines.append(line)
            for link in links[message.id]:
                target = link._target()
                lines.append(
                    words["manual"]
                    % {
                        "record": self._join([(target._name, target.id)], names, words),
                        "user": link.user_id.name or "",
                    }
                )
            if message.state != "error":
                lines.append(self._visibility(message, words))
            out[message.id] = lines
        return out

    @api.model
    def _html(self, message):
        return self._html_of(message).get(message.id, Markup())

    @api.model
    def _html_of(self, messages):
        """``{message id: Markup}``: ``_lines_of`` as lists, for ``route_html``."""
        out = {}
        for message_id, lines in self._lines_of(messages).items():
            out[message_id] = (
                Markup("<ul class='mb-0'>%s</ul>")
                % Markup().join(Markup("<li>%s</li>") % escape(line) for line in lines)
                if lines
                else Markup()
            )
        return out

    @api.model
    def _word(self, words, code, params, names, earlier):
        """One ``(code, params)`` of ``explain.lines`` in words, or ``None`` (a code of a
        newer version: say nothing rather than guess)."""
        sentences = words["sentences"]
        if code not in sentences:
            return None
        values = {key: self._value(value, names, words) for key, value in params.items()}
        if code == "folder":  # the role as the folder list shows it, and once only
            folder, role = params.get("folder") or "", params.get("role") or ""
            label = words["roles"].get(role, role)
            values["role"] = label
            if folder.casefold() == label.casefold() or (
                role == "inbox" and folder.upper() == "INBOX"
            ):
                code = "folder_once"
        elif code == "kind_changed":
            values["kind"] = words["kinds"].get(params.get("kind"), params.get("kind") or "")
        elif code == "thread":
            mail = earlier.get(params.get("reference"))
            if mail:
                values.update(mail)
            else:  # not stored, or not the reader's to read: no raw Message-ID
                code = "thread_earlier"
        elif code == "notified_followers":
            # who follows a record is for its readers: not said of one the reader may not read
            record = params.get("record")
            if not record or any(names.get(ref, (None, None))[1] is None for ref in record.refs):
                return None
        elif code == "matched_lead":  # a lead or a deal, as the reader may see which
            matched = params.get("records")
            kinds = {names.get(ref, (None, None))[1] for ref in (matched.refs if matched else ())}
            if kinds == {"lead"} or kinds == {"deal"}:
                code = f"matched_lead_{kinds.pop()}"
        elif code.startswith("created_"):
            # what was created, as a whole sentence of its own (the kind decides the words)
            made = params.get("records")
            kind = None
            if made and len(made.refs) == 1:
                kind = names.get(made.refs[0], (None, None))[1]
            made_code = "made_" + kind if kind else "made_record"
            return f"{sentences[made_code] % values} {sentences[code] % values}"
        return sentences[code] % values

    # -- words -----------------------------------------------------------------------------
    @api.model
    def _words(self):
        """What a call words with, made once: the catalogue, the labels of the folder roles
        and of the kinds, the sentences of the mail's state now."""
        return {
            "sentences": self._sentences(),
            "roles": dict(
                self.env["mailbox.folder"]._fields["role"]._description_selection(self.env)
            ),
            "kinds": dict(
                self.env["mailbox.message"]._fields["mail_kind"]._description_selection(self.env)
            ),
            "error": self.env._("Not read: %s"),
            "damaged": self.env._(
                "Damaged: its MIME structure is broken; what could be read is shown and "
                "linked, and the original is kept as it came (.eml)."
            ),
            "manual": self.env._("Linked by hand to %(record)s by %(user)s."),
            "private": self.env._(
                "Visibility: private, shown only to the mailbox's owner (%s) and sales managers."
            ),
            "strict": self.env._(
                "Visibility: strict, shown on a record only to users who may read every record "
                "the mail is linked to."
            ),
            "shared": self.env._(
                "Visibility: shown to the mailbox's users and to whoever may read a record it "
                "is linked to."
            ),
            "none": self.env._("none"),
            "nothing": self.env._("nothing"),
        }

    @api.model
    def _sentences(self):
        """``{code: translated sentence}`` for every code ``explain.lines`` gives."""
        return {
            "folder": self.env._("Found in the folder %(folder)s (%(role)s)."),
            # the folder's name is its role's label ("INBOX", "Sent"): said once
            "folder_once": self.env._("Found in the folder %(folder)s."),
            "direction_sent_folder": self.env._("Outgoing: it is in the Sent folder."),
            "direction_our_sender": self.env._("Outgoing: its sender is one of our addresses."),
            "direction_their_sender": self.env._(
                "Incoming: its sender is not one of our addresses."
            ),
            "kind_spam_folder": self.env._("In the spam folder: not CRM material, never linked."),
            "kind_internal_internal": self.env._(
                "Internal: every participant is one of our addresses (colleagues' mail is not "
                "CRM material)."
            ),
            "kind_bounce_header": self.env._("A delivery report (%(detail)s): not linked."),
            "kind_bounce_sender": self.env._(
                "A delivery report: sent by the mail system (%(detail)s); not linked."
            ),
            "kind_mailing_list_header": self.env._(
                "A mailing list's mail (%(detail)s): the mailbox skips mailing lists."
            ),
            "kind_auto_reply_header": self.env._(
                "An automatic reply (%(detail)s): it joins the records of its thread only and "
                "creates nothing."
            ),
            "kind_excluded_never_log": self.env._(
                "Every correspondent is on a never-log list (%(detail)s): not linked."
            ),
            "kind_client_client": self.env._("Client mail: its client side is %(detail)s."),
            "kind_client_list_kept": self.env._(
                "Client mail from a mailing list (%(detail)s): this mailbox keeps lists."
            ),
            "kind_changed": self.env._("Classified again since: now %(kind)s."),
            "private_correspondent": self.env._(
                "A private correspondent of the mailbox: shown only to its owner and sales "
                "managers."
            ),
            "mode_manual": self.env._(
                "The mailbox links mail by hand only: nothing was linked automatically."
            ),
            "mode_off": self.env._("The mailbox does not link mail to the CRM."),
            "history": self.env._(
                # true of a mail on no card too (triage, lists, auto-replies)
                "Part of the initial import: history, without Email activity or notification."
            ),
            "thread": self.env._(
                "It answers the mail “%(subject)s” of %(date)s, already on %(records)s."
            ),
            # the earlier mail is not stored, or not the reader's to read
            "thread_earlier": self.env._("It answers an earlier mail, already on %(records)s."),
            "address_unknown": self.env._("%(address)s matched no contact, company, lead or deal."),
            "matched_address": self.env._("%(address)s is the address of %(records)s."),
            "matched_other_address": self.env._(
                "%(address)s is one of the other addresses of %(records)s."
            ),
            "matched_company": self.env._("%(address)s works for %(records)s."),
            "matched_lead": self.env._(
                "%(address)s is the address of the lead or deal %(records)s."
            ),
            # the explainer's own variants: the records all leads, or all deals
            "matched_lead_lead": self.env._("%(address)s is the address of the lead %(records)s."),
            "matched_lead_deal": self.env._("%(address)s is the address of the deal %(records)s."),
            "matched_deal": self.env._("%(records)s: an open deal of the client of %(address)s."),
            "deal_choice": self.env._(
                "The client has several open deals and the mailbox links to one only when "
                "exactly one is open: choose the deal."
            ),
            # what was created (by its kind now), then why: two whole sentences
            "made_lead": self.env._("Created the lead %(records)s."),
            "made_deal": self.env._("Created the deal %(records)s."),
            "made_contact": self.env._("Created the contact %(records)s."),
            "made_company": self.env._("Created the company %(records)s."),
            "made_record": self.env._("Created %(records)s."),  # deleted, or not readable
            "created_always_create": self.env._(
                "%(address)s is on the mailbox's always-create list."
            ),
            "created_unknown_sender": self.env._(
                "%(address)s was unknown and the policy creates a record for mail from an "
                "unknown sender."
            ),
            "created_known_client": self.env._(
                "The policy creates a deal for mail from a known client."
            ),
            "created_unknown_recipient": self.env._(
                "%(address)s was unknown and the policy creates a record for sent mail to an "
                "unknown address."
            ),
            "not_created_policy_incoming_unknown": self.env._(
                "Nothing created for %(address)s: the policy creates nothing for mail from an "
                "unknown sender."
            ),
            "not_created_policy_incoming_known": self.env._(
                "Nothing created for %(address)s: the policy creates nothing for mail from a "
                "known client."
            ),
            "not_created_policy_outgoing_unknown": self.env._(
                "Nothing created for %(address)s: the policy creates nothing for sent mail to "
                "an unknown address."
            ),
            "not_created_thread": self.env._(
                "Nothing created for %(address)s: the mail answers a conversation the CRM "
                "already follows."
            ),
            "not_created_known_lead_only": self.env._(
                "Nothing created for %(address)s: it is known as a lead or deal."
            ),
            "not_created_open_deal": self.env._(
                "Nothing created for %(address)s: the client has an open deal and the policy "
                "creates a deal only for a client without one."
            ),
            "not_created_known_recipient": self.env._(
                "Nothing created for %(address)s: the address is already known."
            ),
            "not_created_loop_guard": self.env._(
                "Nothing created for %(address)s: it sent more mail than the loop guard allows."
            ),
            # shown while the mail waits (link_deferred): the next linking replaces it
            "not_created_deferred": self.env._(
                "Not decided yet for %(address)s: another worker is creating its record at "
                "this moment, and this mail waits for that record rather than create a second "
                "one."
            ),
            "not_created_relink": self.env._(
                "Matched again by hand (Re-link): nothing is created then."
            ),
            "not_created_written": self.env._(
                "Nothing created for %(address)s: mail written in the CRM creates a record only "
                "when its mailbox may send to any address."
            ),
            "deferred": self.env._(
                "Not linked yet: the decision waits for the other worker to finish; the next "
                "synchronization pass links this mail."
            ),
            "triage_dismissed": self.env._(
                "%(user)s took it off the triage queue: not CRM material (Dismiss)."
            ),
            # linked since (Re-link, by hand): the dismissal is history
            "triage_dismissed_before": self.env._(
                "Earlier, %(user)s had taken it off the triage queue as not CRM material "
                "(Dismiss); it has been linked since."
            ),
            "triage_ignored": self.env._(
                "%(user)s put %(entry)s on the mailbox's never-log list from the triage "
                "queue: this mail is never logged now."
            ),
            "triage_applied": self.env._(
                "%(user)s applied the mailbox's never-log list from the triage queue: this "
                "mail is never logged now."
            ),
            "triage_applied_before": self.env._(
                "Earlier, %(user)s had applied the mailbox's never-log list from the triage "
                "queue; it has been linked since."
            ),
            # linked since: the Ignore is history
            "triage_ignored_before": self.env._(
                "Earlier, %(user)s had put %(entry)s on the mailbox's never-log list from the "
                "triage queue; it has been linked since."
            ),
            "removed": self.env._("Removed from %(record)s by %(user)s on %(date)s."),
            # linked to the same record again since: the removal is history
            "removed_relinked": self.env._(
                "Earlier removed from %(record)s by %(user)s on %(date)s; linked to it again since."
            ),
            # the record itself was deleted: the mail stays in its mailbox, on no card of it
            "removed_deleted": self.env._(
                "The record it was on was deleted by %(user)s on %(date)s; the mail stays in "
                "its mailbox."
            ),
            "notified_responsible": self.env._(
                "%(user)s was told, as the responsible of %(record)s."
            ),
            "notified_owner": self.env._(
                "%(user)s was told, as the mailbox's owner (%(record)s has no responsible)."
            ),
            "notified_followers": self.env._("Told as followers of %(record)s: %(user)s."),
        }

    # -- the records and mails a page names ------------------------------------------------
    @api.model
    def _value(self, value, names, words):
        if isinstance(value, explain.Records):
            return self._join(value.refs, names, words)
        if isinstance(value, explain.When):
            return self._when(value.value)
        if value is None:
            return ""
        return str(value)

    @api.model
    def _when(self, value):
        """A stored moment (``"YYYY-MM-DD HH:MM:SS"``, UTC) in the reader's time zone and in
        their language's date and time formats, as Odoo's lists show dates; nothing for a
        value that is not one (a route an administrator edited)."""
        if not value:
            return ""
        try:
            return format_datetime(self.env, value, dt_format=False)
        except (TypeError, ValueError, OverflowError):
            return ""

    @api.model
    def _join(self, refs, names, words):
        found = [names[(model, int(res_id))][0] for model, res_id in refs if model in self.env]
        return ", ".join(name for name in found if name) or words["nothing"]

    @api.model
    def _names(self, refs):
        """The records' names as the reader may see them."""
        refs = [(model, int(res_id)) for model, res_id in refs]
        words = {"nothing": self.env._("nothing")}
        return self._join(refs, self._names_of(refs), words)

    @api.model
    def _names_of(self, refs):
        """``{(model, id): (name, kind)}`` for records named on a page, as the reader may see
        them: per model, one check that they exist, one of the reader's rights, one read. A
        record the reader may not read is never named, nor its kind said (``kind``: "lead",
        "deal", "contact" or "company", else None)."""
        by_model = {}
        for model, res_id in refs:
            if model in self.env:
                by_model.setdefault(model, set()).add(int(res_id))
        if not by_model:
            return {}
        deleted = (self.env._("a record since deleted"), None)
        unreadable = (self.env._("a record you may not read"), None)
        found = {}
        for model, ids in by_model.items():
            records = self.env[model].browse(sorted(ids))
            existing = records.exists()
            readable = existing._filtered_access("read")
            for res_id in ids:
                found[(model, res_id)] = deleted
            for record in existing - readable:
                found[(model, record.id)] = unreadable
            for record in readable:
                found[(model, record.id)] = (record.display_name, self._kind_of(record))
        return found

    @api.model
    def _kind_of(self, record):
        if record._name == "crm.lead":
            return "deal" if record.type == "opportunity" else "lead"
        if record._name == "res.partner":
            return "company" if record.is_company else "contact"
        return None

    @api.model
    def _earlier_mails(self, references):
        """``{Message-ID: {"subject", "date"}}``: the earlier mails a page's mails answer,
        those the reader may read (their record rules), found by one search."""
        if not references:
            return {}
        Message = self.env["mailbox.message"]
        if not Message.has_access("read"):
            return {}
        no_subject = self.env._("(no subject)")
        found = {}
        mails = Message.search_fetch(
            [("message_id", "in", sorted(references))],
            ["message_id", "subject", "date"],
            order="date, id",
        )
        for mail in mails:  # the same mail in two mailboxes: the first stored says it
            found.setdefault(
                mail.message_id,
                {
                    "subject": mail.subject or no_subject,
                    "date": format_date(self.env, mail.date) if mail.date else "",
                },
            )
        return found

    # -- what the mail is now ----------------------------------------------------------------
    @api.model
    def _visibility(self, message, words):
        mailbox = message.sudo().mailbox_id  # the mail's own mailbox: its settings decide
        if message.private:
            return words["private"] % (mailbox.owner_id.name or words["none"])
        if mailbox.strict_visibility:
            return words["strict"]
        return words["shared"]
