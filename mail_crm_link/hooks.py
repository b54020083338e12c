from . import compat


def post_init_hook(env):
    """What XML data cannot say the same way on Odoo 18 and 19 (see ``compat``)."""
    compat.add_action_groups(
        env.ref("mail_crm_link.mailbox_mass_compose_action_partner"),
        env.ref("sales_team.group_sale_salesman"),
    )
