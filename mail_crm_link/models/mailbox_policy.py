import psycopg2.errors

from odoo import fields, models
from odoo.tools import mute_logger

from ..mailflow import addresses, classify, policy


class MailboxCrmPolicy(models.AbstractModel):
    """The CRM policy of a mailbox: what its mail is linked to, which records it creates
    (with which source and responsible), who is told, what stays private.

    Mixed into ``fetchmail.server``; kept apart so that a mailbox's connection (the
    ``fetchmail.server`` file) and its CRM rules (this file) can be read and extended apart.
    """

    _name = "mailbox.crm.policy"
    _description = "Mailbox CRM Policy"

    fold_plus = fields.Boolean(
        string="Ignore +tags in Addresses",
        help="Match anna+news@client.com to the contact anna@client.com.",
    )
    skip_mailing_lists = fields.Boolean(
        default=True,
        help="Mail with a List-Id header (newsletters, discussion lists) is stored but never "
        "linked.",
    )
    never_log = fields.Text(
        help="Addresses and domains whose mail is never linked to the CRM (personal contacts, "
        "suppliers' robots). Also see the global list in the CRM settings.",
    )
    always_create = fields.Text(
        string="Always Create From",
        help="Every incoming mail from these addresses creates a record, even when the "
        "address is known (a web form's sender, for instance).",
    )
    deal_link_mode = fields.Selection(
        [
            (policy.DEALS_ALL, "All open deals"),
            (policy.DEALS_RECENT, "The most recent open deal"),
            (policy.DEALS_SINGLE, "Only when exactly one deal is open"),
            (policy.DEALS_NONE, "No deal"),
        ],
        string="Link Mail of a Client To",
        default=policy.DEALS_SINGLE,
        required=True,
        help="Which open deals of the client a mail is linked to. With several open deals "
        "and 'only when exactly one', the mail is flagged 'Choose a deal'.",
    )
    team_id = fields.Many2one("crm.team", string="Sales Team")
    source_id = fields.Many2one(
        "utm.source",
        copy=False,
        help="The source of the leads and deals this mailbox creates. Empty: a source named "
        "after the mailbox (its name, e.g. its address) is made for it.",
    )
    incoming_unknown_action = fields.Selection(
        [
            (policy.LEAD, "Create a lead"),
            (policy.OPPORTUNITY, "Create an opportunity"),
            (policy.CONTACT, "Create a contact"),
            (policy.COMPANY, "Create a company"),
            (policy.NOTHING, "Nothing"),
        ],
        string="Mail From an Unknown Address",
        default=policy.LEAD,
        required=True,
    )
    incoming_assign = fields.Selection(
        [("fixed", "A fixed user"), ("round_robin", "Round robin in the sales team")],
        string="Assign To",
        default="fixed",
        required=True,
    )
    incoming_user_id = fields.Many2one(
        "res.users", string="Responsible", help="Empty: the mailbox's owner."
    )
    outgoing_unknown_action = fields.Selection(
        [
            (policy.CONTACT, "Create a contact"),
            (policy.LEAD, "Create a lead"),
            (policy.NOTHING, "Nothing"),
        ],
        string="Mail To an Unknown Address",
        default=policy.CONTACT,
        required=True,
    )
    outgoing_assign = fields.Selection(
        [("sender", "The user who sent it"), ("fixed", "A fixed user")],
        string="Assign Outgoing To",
        default="sender",
        required=True,
    )
    outgoing_user_id = fields.Many2one("res.users", string="Responsible (Outgoing)")
    known_action = fields.Selection(
        [
            (policy.OPPORTUNITY, "Create an opportunity"),
            (policy.LEAD, "Create a lead"),
            (policy.NOTHING, "Nothing"),
        ],
        string="New Mail From a Client",
        default=policy.OPPORTUNITY,
        required=True,
    )
    known_only_without_open = fields.Boolean(
        string="Only When No Deal Is Open",
        default=True,
        help="A client with an open opportunity does not get a new one per mail.",
    )
    known_assign = fields.Selection(
        [("salesperson", "The client's salesperson"), ("fixed", "A fixed user")],
        string="Assign Client Deals To",
        default="salesperson",
        required=True,
    )
    known_user_id = fields.Many2one("res.users", string="Responsible (Clients)")
    rr_last_user_id = fields.Many2one("res.users", string="Last Assigned", readonly=True)
    activity_enabled = fields.Boolean(
        string="Email Activities",
        default=True,
        help="Each incoming client mail is a pending Email activity for the responsible.",
    )
    activity_days = fields.Integer(
        string="Due In (Working Days)",
        default=1,
        help="1: by the end of the next working day.",
    )
    reply_marks_processed = fields.Boolean(
        string="Replying Marks the Mail Processed",
        help="A reply sent from the CRM marks the mail it answers processed (its Email "
        "activity done). Off: the activity stays open, so the conversation can go on.",
    )
    strict_visibility = fields.Boolean(
        help="A mail of this mailbox shows on a record only to users who may read every "
        "record it is linked to.",
    )
    private_addresses = fields.Text(
        string="Private Correspondents",
        help="Mail with these addresses or domains stays linked but shows only to the "
        "mailbox's owner and sales managers.",
    )
    server_action_id = fields.Many2one(
        "ir.actions.server",
        string="Then Run",
        domain=[("model_id.model", "=", "mailbox.message")],
        help="A server action run on every stored mail after the create policy "
        "(the mail is the action's record).",
    )

    def _mcl_source(self):
        """The source of the records this mailbox's policy creates: the policy's, else the
        mailbox's own (kept on the policy from then on)."""
        self.ensure_one()
        if not self.source_id:
            self._mcl_ensure_source()
        return self.source_id

    def _mcl_ensure_source(self):
        """Give each of these mailboxes without a source its own: the ``utm.source`` named
        after the mailbox. A source's name is not translatable (``utm.source.name`` is a plain
        Char), so a generic word such as "Mailbox" reads English to every user; the mailbox's
        name as its administrator typed it (its address, say) is a proper name, read the same
        in every language, and it tells which mailbox a lead came from."""
        for mailbox in self.filtered(lambda m: not m.source_id and (m.name or "").strip()):
            source = mailbox._mcl_own_source()
            if source:
                # our value on the mailbox of the mail a salesman works on (Create Lead),
                # who may not write the mailbox's settings
                mailbox.sudo().source_id = source

    def _mcl_own_source(self):
        """The ``utm.source`` of exactly this mailbox's name: an existing one, or a new one
        (empty when another transaction is creating it at this moment: the next record
        created finds it)."""
        self.ensure_one()
        Source = self.env["utm.source"]  # internal users may read and create sources
        name = self.name.strip()
        source = Source.search([("name", "=", name)], limit=1)
        if source:
            return source
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                return Source.create({"name": name})
        except psycopg2.errors.UniqueViolation:
            return Source

    def _mcl_never_log_set(self):
        self.ensure_one()
        glob = self.env["ir.config_parameter"].sudo().get_param("mail_crm_link.never_log", "")
        return addresses.parse_internal(self.never_log) | addresses.parse_internal(glob)

    def _mcl_kind(
        self, headers, direction, sender, recipients, folder_role, internal=None, never_log=None
    ):
        """What a mail is, for this mailbox's settings (see ``classify.kind``). ``internal``
        and ``never_log``: the mailbox's sets, when the caller read them once for a batch."""
        return self._mcl_kind_why(
            headers, direction, sender, recipients, folder_role, internal, never_log
        )[0]

    def _mcl_kind_why(
        self, headers, direction, sender, recipients, folder_role, internal=None, never_log=None
    ):
        """``_mcl_kind`` with the rule that decided it (``classify.kind_why``)."""
        self.ensure_one()
        return classify.kind_why(
            headers,
            direction,
            sender,
            recipients,
            self._internal_set() if internal is None else internal,
            folder_role,
            self._mcl_never_log_set() if never_log is None else never_log,
            self.skip_mailing_lists,
        )

    def _mcl_is_private(self, direction, sender, recipients, internal=None):
        self.ensure_one()
        private = addresses.parse_internal(self.private_addresses)
        if not private:
            return False
        if internal is None:
            internal = self._internal_set()
        found = classify.correspondents(direction, sender, recipients, internal)
        return bool(found) and any(addresses.in_list(a, private) for a in found)

    def _mcl_policy(self):
        self.ensure_one()
        return policy.Policy(
            incoming_unknown=self.incoming_unknown_action,
            outgoing_unknown=self.outgoing_unknown_action,
            incoming_known=self.known_action,
            only_without_open_deal=self.known_only_without_open,
            always_create=addresses.parse_internal(self.always_create),
        )
