from . import compat

# actions for sales users only: XML data cannot name their groups field the same way on 18
# and 19 (``groups_id`` / ``group_ids``, see ``compat.ACTION_GROUPS``)
SALES_ACTIONS = (
    "mail_crm_link.mailbox_mass_compose_action_partner",
    "mail_crm_link.mailbox_mass_compose_action_lead",
    "mail_crm_link.action_my_mailbox",
)

# actions for administrators only (Odoo runs a server action only for users who may write the
# records: sales users use the buttons of the mail instead)
SYSTEM_ACTIONS = (
    "mail_crm_link.mailbox_message_action_relink",
    "mail_crm_link.mailbox_message_action_retry_send",
)


def post_init_hook(env):
    """What XML data cannot say the same way on Odoo 18 and 19 (see ``compat``)."""
    salesman = env.ref("sales_team.group_sale_salesman")
    for xmlid in SALES_ACTIONS:
        compat.add_action_groups(env.ref(xmlid), salesman)
    system = env.ref("base.group_system")
    for xmlid in SYSTEM_ACTIONS:
        compat.add_action_groups(env.ref(xmlid), system)
