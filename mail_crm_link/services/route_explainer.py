"""The routing explanation of a mail in words: "Why here?" on the mail and on the card.

The pipeline records its decisions in ``mailbox.message.route`` (``mailflow.explain``); this
service words them at display time, in the reader's language, with the reader's rights: a
record the reader may not read is named as such, never by its name. What is not recorded but
is the mail's state now is added here: links made by hand, an error, the visibility.
"""

from markupsafe import Markup, escape

from odoo import api, models

from ..mailflow import explain


class MailboxRouteExplainer(models.AbstractModel):
    _name = "mailbox.route.explainer"
    _description = "Mailbox Pipeline: Explain a Mail's Routing"

    @api.model
    def _lines(self, message):
        """The explanation of ``message`` (read as the current user): a list of sentences."""
        sentences = self._sentences()
        out = []
        if message.state == "error":
            out.append(self.env._("Not read: %s", message.error_reason or ""))
        if message.damaged:
            out.append(
                self.env._(
                    "Damaged: its MIME structure is broken; what could be read is shown and "
                    "linked, and the original is kept as it came (.eml)."
                )
            )
        route = message.route if isinstance(message.route, dict) else {}
        for code, params in explain.lines(route, message.mail_kind):
            text = sentences.get(code)
            if text is None:  # a code of a newer version: say nothing rather than guess
                continue
            if code == "folder":  # the role as the folder list shows it
                params = dict(params, role=self._role_label(params.get("role")))
            elif code == "kind_changed":
                params = dict(params, kind=self._kind_label(params.get("kind")))
            out.append(text % self._params(params))
        out.extend(self._manual_lines(message))
        if message.state != "error":
            out.append(self._visibility(message))
        return out

    @api.model
    def _html(self, message):
        lines = self._lines(message)
        if not lines:
            return Markup()
        return Markup("<ul class='mb-0'>%s</ul>") % Markup().join(
            Markup("<li>%s</li>") % escape(line) for line in lines
        )

    # -- words -----------------------------------------------------------------------------
    @api.model
    def _sentences(self):
        """``{code: translated sentence}`` for every code ``explain.lines`` gives."""
        return {
            "folder": self.env._("Found in the folder %(folder)s (%(role)s)."),
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
                "Part of the initial import: shown on the cards as history, without Email "
                "activity or notification."
            ),
            "thread": self.env._("It answers %(reference)s, already on %(records)s."),
            "address_unknown": self.env._("%(address)s matched no contact, company, lead or deal."),
            "matched_address": self.env._("%(address)s is the address of %(records)s."),
            "matched_other_address": self.env._(
                "%(address)s is one of the other addresses of %(records)s."
            ),
            "matched_company": self.env._("%(address)s works for %(records)s."),
            "matched_lead": self.env._(
                "%(address)s is the address of the lead or deal %(records)s."
            ),
            "matched_deal": self.env._("%(records)s: an open deal of the client of %(address)s."),
            "deal_choice": self.env._(
                "The client has several open deals and the mailbox links to one only when "
                "exactly one is open: choose the deal."
            ),
            "created_always_create": self.env._(
                "Created %(records)s: %(address)s is on the mailbox's always-create list."
            ),
            "created_unknown_sender": self.env._(
                "Created %(records)s: %(address)s was unknown and the policy creates a record "
                "for mail from an unknown sender."
            ),
            "created_known_client": self.env._(
                "Created %(records)s: the policy creates a deal for mail from a known client."
            ),
            "created_unknown_recipient": self.env._(
                "Created %(records)s: %(address)s was unknown and the policy creates a record "
                "for sent mail to an unknown address."
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
            "not_created_deferred": self.env._(
                "Another worker was creating the record of %(address)s at the same moment: the "
                "mail was linked again in a new transaction."
            ),
            "not_created_relink": self.env._(
                "Matched again by hand (Re-link): nothing is created then."
            ),
            "not_created_written": self.env._(
                "Nothing created for %(address)s: mail written in the CRM creates a record only "
                "when its mailbox may send to any address."
            ),
            "deferred": self.env._("Linking waits for another worker: the next pass links it."),
            "triage_dismissed": self.env._(
                "%(user)s took it off the triage queue: not CRM material (Dismiss)."
            ),
            "notified_responsible": self.env._(
                "%(user)s was told, as the responsible of %(record)s."
            ),
            "notified_owner": self.env._(
                "%(user)s was told, as the mailbox's owner (%(record)s has no responsible)."
            ),
        }

    @api.model
    def _role_label(self, role):
        labels = dict(self.env["mailbox.folder"]._fields["role"]._description_selection(self.env))
        return labels.get(role, role or "")

    @api.model
    def _kind_label(self, kind):
        labels = dict(
            self.env["mailbox.message"]._fields["mail_kind"]._description_selection(self.env)
        )
        return labels.get(kind, kind or "")

    @api.model
    def _params(self, params):
        return {key: self._value(value) for key, value in params.items()}

    @api.model
    def _value(self, value):
        if isinstance(value, explain.Records):
            return self._names(value.refs)
        if value is None:
            return ""
        return str(value)

    @api.model
    def _names(self, refs):
        """The records' names as the reader may see them."""
        names = []
        for model, res_id in refs:
            if model not in self.env:
                continue
            record = self.env[model].browse(int(res_id)).exists()
            if not record:
                names.append(self.env._("a record since deleted"))
            elif record._filtered_access("read"):
                names.append(record.display_name)
            else:
                names.append(self.env._("a record you may not read"))
        return ", ".join(names) or self.env._("nothing")

    # -- what the mail is now ----------------------------------------------------------------
    @api.model
    def _manual_lines(self, message):
        out = []
        for link in message.link_ids.filtered(lambda link: link.link_type == "manual"):
            out.append(
                self.env._(
                    "Linked by hand to %(record)s by %(user)s.",
                    record=self._names([(link._target()._name, link._target().id)]),
                    user=link.user_id.name or "",
                )
            )
        return out

    @api.model
    def _visibility(self, message):
        mailbox = message.sudo().mailbox_id  # the mail's own mailbox: its settings decide
        if message.private:
            return self.env._(
                "Visibility: private, shown only to the mailbox's owner (%s) and sales managers.",
                mailbox.owner_id.name or self.env._("none"),
            )
        if mailbox.strict_visibility:
            return self.env._(
                "Visibility: strict, shown on a record only to users who may read every record "
                "the mail is linked to."
            )
        return self.env._(
            "Visibility: shown to the mailbox's users and to whoever may read a record it is "
            "linked to."
        )
