from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

from ..mailflow import tracking


class MailCrmLinkController(http.Controller):
    @http.route(
        "/mail_crm_link/open/<string:token>/<string:signature>.gif",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
    )
    def mail_opened(self, token, signature):
        """The 1x1 image of a tracked mail: one open recorded per request with a valid,
        signed token; anything else is refused and records nothing."""
        secret = request.env["ir.config_parameter"].sudo().get_param("database.secret")
        if not tracking.verify(token, signature, secret):
            raise NotFound()
        if not request.env["mailbox.message"].sudo()._mcl_record_open(token):
            raise NotFound()
        return request.make_response(
            tracking.PIXEL_GIF,
            headers=[("Content-Type", "image/gif"), ("Cache-Control", "no-store")],
        )
