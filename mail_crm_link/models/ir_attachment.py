from odoo import fields, models


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    # set by the store step on a file read from a broken MIME part (issue 25): a bad base64
    # padding, or the last part of a mail whose closing boundary is missing
    mcl_damaged = fields.Boolean(
        string="Possibly Incomplete",
        readonly=True,
        help="This file was read from a damaged part of its mail: it may be cut short or "
        "contain wrong bytes. The original mail can be downloaded from the mail's form.",
    )
