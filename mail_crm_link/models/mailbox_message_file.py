from odoo import api, fields, models, tools
from odoo.tools.misc import human_size


class MailboxMessageFile(models.Model):
    """ "Files from mail": one row per attachment of a linked mail and per record it is on,
    so a card lists the files its clients sent or received. A read-only SQL view."""

    _name = "mailbox.message.file"
    _description = "File From Mail"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "name"

    attachment_id = fields.Many2one("ir.attachment", string="File", readonly=True)
    name = fields.Char(string="File Name", readonly=True)
    mimetype = fields.Char(string="Type", readonly=True)
    file_size = fields.Integer(string="Size (Bytes)", readonly=True)
    file_size_human = fields.Char(string="Size", compute="_compute_file_size_human")
    message_id = fields.Many2one("mailbox.message", string="Mail", readonly=True)
    link_id = fields.Many2one("mailbox.message.link", readonly=True)
    mailbox_id = fields.Many2one("fetchmail.server", readonly=True)
    date = fields.Datetime(readonly=True)
    direction = fields.Selection([("incoming", "Incoming"), ("outgoing", "Sent")], readonly=True)
    email_from = fields.Char(string="From", readonly=True)
    subject = fields.Char(readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True)
    lead_id = fields.Many2one("crm.lead", string="Lead/Opportunity", readonly=True)
    client_id = fields.Many2one("res.partner", readonly=True)
    private = fields.Boolean(readonly=True)
    damaged = fields.Boolean(
        string="Possibly Incomplete",
        readonly=True,
        help="Read from a damaged part of its mail: the file may be cut short.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            """
            CREATE VIEW mailbox_message_file AS (
                SELECT (l.id::bigint << 32) | a.id AS id,
                       a.id AS attachment_id,
                       a.name AS name,
                       a.mimetype AS mimetype,
                       a.file_size AS file_size,
                       m.id AS message_id,
                       l.id AS link_id,
                       m.mailbox_id AS mailbox_id,
                       m.date AS date,
                       m.direction AS direction,
                       m.email_from AS email_from,
                       m.subject AS subject,
                       m.private AS private,
                       COALESCE(a.mcl_damaged, FALSE) AS damaged,
                       l.partner_id AS partner_id,
                       l.lead_id AS lead_id,
                       COALESCE(p.commercial_partner_id, lp.commercial_partner_id) AS client_id
                  FROM mailbox_message_link l
                  JOIN mailbox_message m ON m.id = l.message_id
                  JOIN ir_attachment a
                    ON a.res_model = 'mailbox.message' AND a.res_id = m.id
                   AND a.res_field IS NULL  -- not the kept original (raw_source)
             LEFT JOIN res_partner p ON p.id = l.partner_id
             LEFT JOIN crm_lead ld ON ld.id = l.lead_id
             LEFT JOIN res_partner lp ON lp.id = ld.partner_id
            )
            """
        )

    @api.depends("file_size")
    def _compute_file_size_human(self):
        for file in self:
            file.file_size_human = human_size(file.file_size) or ""

    def _url(self, download):
        """Odoo's own download address: it checks that the user may read the file (through
        the mail it belongs to) when it is opened."""
        self.ensure_one()
        self.attachment_id.check_access("read")
        return f"/web/content/{self.attachment_id.id}?download={'true' if download else 'false'}"

    def action_preview(self):
        """Open the file in a new tab: shown by the browser when it can (PDF, images, text),
        downloaded otherwise."""
        return {"type": "ir.actions.act_url", "url": self._url(False), "target": "new"}

    def action_download(self):
        return {"type": "ir.actions.act_url", "url": self._url(True), "target": "download"}

    def action_open_mail(self):
        self.ensure_one()
        return self.message_id._mcl_form_action()
