"""Odoo 19 asks every internal user who views a PDF without a thumbnail to render its first
page and store it (``/mail/attachment/update_thumbnail``), and answers 404 when the viewer
may read the file but not write it; the web client shows that as "Oops!". The files of a
stored mail (``mailbox.message``) are read, never written, by sales users: for them the
request is answered quietly and nothing is stored (the mail's files stay as they came).
Odoo 18 has no such request (see ``compat``)."""

from odoo import http
from odoo.http import request

from .. import compat

if compat.SERIES >= 19:
    from odoo.addons.mail.controllers.attachment import AttachmentController

    class MailCrmLinkAttachmentController(AttachmentController):
        @http.route()
        def mail_attachement_update_thumbnail(
            self, attachment_id, thumbnail=None, access_token=None
        ):
            attachment = request.env["ir.attachment"].browse(int(attachment_id)).exists()
            if (
                attachment
                and attachment.res_model == "mailbox.message"
                and attachment.has_access("read")
                and not attachment.has_access("write")
            ):
                return None
            return super().mail_attachement_update_thumbnail(
                attachment_id, thumbnail=thumbnail, access_token=access_token
            )
