from odoo import api, fields, models
from odoo.exceptions import AccessError

# what a CRM template may apply to: chosen from this list, so that a sales user never needs
# read access to Odoo's model registry (ir.model) to pick it
MCL_MODELS = [("res.partner", "Contacts and Companies"), ("crm.lead", "Leads and Deals")]


class MailTemplate(models.Model):
    """CRM mail templates: personal (their owner only) or shared with all users or with
    chosen groups. Who sees which is a record rule (see security); Odoo's own templates are
    untouched."""

    _inherit = "mail.template"

    mcl_crm = fields.Boolean(
        string="CRM Mailbox Template",
        help="Offered when writing from a contact, company, lead or deal through a mailbox.",
    )
    mcl_sharing = fields.Selection(
        [("personal", "Only me"), ("all", "All users"), ("groups", "Chosen groups")],
        string="Shared With",
        default="personal",
        required=True,
    )
    mcl_group_ids = fields.Many2many(
        "res.groups",
        "mail_template_mcl_group_rel",
        "template_id",
        "group_id",
        string="Groups",
    )

    mcl_model = fields.Selection(
        MCL_MODELS,
        string="Used On",
        compute="_compute_mcl_model",
        inverse="_inverse_mcl_model",
        readonly=False,
        help="The cards that offer this template: contacts and companies, or leads and deals.",
    )

    @api.depends("model")
    def _compute_mcl_model(self):
        for template in self:
            template.mcl_model = template.model if template.model in dict(MCL_MODELS) else False

    def _inverse_mcl_model(self):
        for template in self.filtered("mcl_model"):
            if template.model != template.mcl_model:
                # the registry entry is looked up as superuser (ir.model._get); the template
                # itself is written as the user, under the template rules
                template.model_id = self.env["ir.model"]._get(template.mcl_model).id

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            crm = vals.get("mcl_crm", self.env.context.get("default_mcl_crm"))
            if crm and not vals.get("user_id"):
                vals["user_id"] = self.env.uid  # a CRM template belongs to its author
            if vals.get("mcl_model") and not vals.get("model_id"):
                vals["model_id"] = self.env["ir.model"]._get(vals["mcl_model"]).id
        templates = super().create(vals_list)
        # checked on the result: defaults from the context make CRM templates too
        templates._mcl_check_owners()
        return templates

    def write(self, vals):
        self._mcl_check_mine()
        if {"user_id", "mcl_crm"} & set(vals):
            # a colleague's CRM template is not taken over, left ownerless, or first made
            # a plain template to be taken over then
            self.filtered("mcl_crm")._mcl_check_owners(strict=True)
            if vals.get("mcl_crm") and "user_id" not in vals and not any(self.mapped("user_id")):
                vals = {**vals, "user_id": self.env.uid}  # made CRM: its maker's
        result = super().write(vals)
        if {"user_id", "mcl_crm"} & set(vals):  # a template made CRM keeps its owner's rights
            self._mcl_check_owners(strict=True)
        return result

    def copy_data(self, default=None):
        """A copy of a CRM template is its copier's."""
        default = dict(default or {})
        vals_list = super().copy_data(default=default)
        if "user_id" not in default:
            for template, vals in zip(self, vals_list, strict=True):
                if template.mcl_crm:
                    vals["user_id"] = self.env.uid
        return vals_list

    def unlink(self):
        self._mcl_check_mine()
        return super().unlink()

    def _mcl_check_owners(self, strict=False):
        for template in self.filtered("mcl_crm"):
            template._mcl_check_owner(template.user_id.id, strict=strict)

    def _mcl_check_mine(self):
        """A CRM template is changed only by whom may read it (issue 23): Odoo lets a
        template editor write every template, which would turn a colleague's personal
        template into a shared one; the read rule (own, or shared with me) decides."""
        if not self.env.su:
            self.filtered("mcl_crm").check_access("read")

    @api.model
    def _mcl_check_owner(self, user_id, strict=False):
        """Only sales managers and administrators give a CRM template to someone else;
        ``strict``: or to nobody (an ownerless template is nobody's to claim either)."""
        if self.env.su or user_id == self.env.uid or (not user_id and not strict):
            return
        if not (
            self.env.user.has_group("sales_team.group_sale_manager")
            or self.env.user.has_group("base.group_system")
        ):
            raise AccessError(self.env._("A CRM template you write is yours: its owner is you."))
