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
        # a colleague logged in to Odoo (who opened the image's address from the back end)
        # is not the recipient: the image is served, nothing is counted
        internal = bool(request.session.uid) and request.env.user._is_internal()
        if not request.env["mailbox.message"].sudo()._mcl_record_open(token, count=not internal):
            raise NotFound()
        return request.make_response(
            tracking.PIXEL_GIF,
            headers=[("Content-Type", "image/gif"), ("Cache-Control", "no-store")],
        )
