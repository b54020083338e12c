import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..mailflow import addresses, errors, imap_sync, pop_sync, presets
from ..models.fields_extra import TypedSecretChar

_logger = logging.getLogger(__name__)

PARAM_ENABLED = "mail_crm_link.personal_mailboxes"
PARAM_TEMPLATE = "mail_crm_link.personal_template_id"
PARAM_PORTS = "mail_crm_link.personal_mailbox_ports"

# What a personal mailbox takes from the administrators' template mailbox besides its CRM
# policy (the fields of mailbox.crm.policy): never the connection, the owner or the secrets.
TEMPLATE_FIELDS = (
    "crm_link_mode",
    "internal_domains",
    "import_window",
    "import_days",
    "poll_interval",
    "copy_mode",
    "allow_any_address",
    "open_tracking",
)
POLICY_FIELDS_SKIPPED = ("rr_last_user_id",)


class MailboxConnect(models.TransientModel):
    """ "Connect my mailbox": a sales user connects their own mailbox as a personal mailbox
    they own, with the CRM policy the administrators chose for personal mailboxes.

    Sales users cannot create or edit mailboxes (``fetchmail.server`` is for administrators):
    the mailbox is created here as superuser with values this wizard controls (the address,
    server and password typed here, the template's policy, the user as owner), and only ever
    on a new mailbox or on the user's own personal mailbox found by this code, never on a
    record id coming from the client.
    """

    _name = "mailbox.connect"
    _description = "Connect My Mailbox"

    email = fields.Char(string="Email Address", required=True)
    provider = fields.Selection(
        [(p.key, p.name) for p in presets.PRESETS] + [(presets.OTHER, "Other mail server")],
        compute="_compute_provider",
        store=True,
        readonly=False,
        precompute=True,
    )
    server = fields.Char(
        string="IMAP Server", compute="_compute_server", store=True, readonly=False
    )
    port = fields.Integer(compute="_compute_server", store=True, readonly=False)
    connection_security = fields.Selection(
        [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None (plain text)")],
        string="Security",
        compute="_compute_server",
        store=True,
        readonly=False,
    )
    protocol = fields.Selection([("imap", "IMAP"), ("pop", "POP3")], default="imap", required=True)
    login = fields.Char(
        string="User Name",
        compute="_compute_login",
        store=True,
        readonly=False,
        help="Usually the address itself.",
    )
    password = TypedSecretChar()  # typed here, never read back (see the field)
    auth = fields.Selection(
        [
            (presets.PASSWORD, "Password"),
            (presets.APP_PASSWORD, "App password"),
            (presets.OAUTH, "OAuth only"),
        ],
        compute="_compute_provider_info",
    )
    provider_note = fields.Char(compute="_compute_provider_info")
    oauth_available = fields.Boolean(compute="_compute_provider_info")
    oauth_note = fields.Char(compute="_compute_provider_info")
    test_state = fields.Selection([("ok", "Works"), ("failed", "Failed")], readonly=True)
    test_message = fields.Char(readonly=True)
    allowed = fields.Boolean(default=lambda self: self._mcl_users_may_connect(), readonly=True)

    RESULT_FIELDS = ("test_state", "test_message", "allowed")  # written by the wizard only

    @api.model_create_multi
    def create(self, vals_list):
        """What *Test* found and whether users may connect are the wizard's to say, never
        the caller's: dropped from what a user creates (an RPC create accepts any field)."""
        if not self.env.su:
            vals_list = [
                {k: v for k, v in vals.items() if k not in self.RESULT_FIELDS} for vals in vals_list
            ]
        return super().create(vals_list)

    # -- entry points -------------------------------------------------------------------------
    @api.model
    def _mcl_action(self, context=None):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Connect My Mailbox"),
            "res_model": "mailbox.connect",
            "view_mode": "form",
            "target": "new",
            "context": context or {},
        }

    @api.model
    def action_my_mailbox(self):
        """ "My Mailbox" (CRM menu, user preferences): the user's personal mailbox, or the
        wizard that connects one."""
        mine = self.env["fetchmail.server"].search(self.env["fetchmail.server"]._mcl_mine_domain())
        if not mine:
            return self._mcl_action()
        action = {
            "type": "ir.actions.act_window",
            "name": self.env._("My Mailbox"),
            "res_model": "fetchmail.server",
            "views": [
                (self.env.ref("mail_crm_link.fetchmail_server_view_list_personal").id, "list"),
                (self.env.ref("mail_crm_link.fetchmail_server_view_form_personal").id, "form"),
            ],
            "domain": [("id", "in", mine.ids)],
            # read only by their views' create/edit/delete="false": a context saying so would
            # be passed on to every action opened from the mailbox (its triage queue, the
            # lead made there), leaving their forms read only too
            "target": "current",
        }
        if len(mine) == 1:
            action.update(
                res_id=mine.id,
                view_mode="form",
                views=[
                    (self.env.ref("mail_crm_link.fetchmail_server_view_form_personal").id, "form")
                ],
            )
        return action

    # -- computes -----------------------------------------------------------------------------
    @api.depends("email")
    def _compute_provider(self):
        for wizard in self:
            preset = presets.detect(wizard.email)
            # an address of no known provider keeps the provider chosen by hand
            wizard.provider = preset.key if preset else (wizard.provider or presets.OTHER)

    @api.depends("provider", "email")
    def _compute_server(self):
        for wizard in self:
            preset = presets.BY_KEY.get(wizard.provider)
            if preset:
                wizard.server = preset.host
                wizard.port = preset.port
                wizard.connection_security = preset.security
            else:
                domain = addresses.domain_of(addresses.normalize(wizard.email or ""))
                wizard.server = wizard.server or (f"imap.{domain}" if domain else False)
                wizard.port = wizard.port or 993
                wizard.connection_security = wizard.connection_security or "ssl"

    @api.onchange("protocol", "connection_security")
    def _onchange_protocol(self):
        """The usual port of the protocol and security, unless a port of its own was typed."""
        if self.provider == presets.OTHER and (
            not self.port or self.port in presets.STANDARD_PORTS
        ):
            self.port = {
                ("imap", "ssl"): 993,
                ("pop", "ssl"): 995,
                ("pop", "starttls"): 110,
                ("pop", "none"): 110,
            }.get((self.protocol, self.connection_security), 143)

    @api.depends("email")
    def _compute_login(self):
        for wizard in self:
            wizard.login = (wizard.email or "").strip() or wizard.login

    @api.depends("provider")
    def _compute_provider_info(self):
        for wizard in self:
            preset = presets.BY_KEY.get(wizard.provider)
            wizard.auth = preset.auth if preset else presets.PASSWORD
            wizard.provider_note = wizard._provider_note(preset)
            oauth_type = preset.oauth_server_type if preset else ""
            wizard.oauth_available = bool(oauth_type and wizard._oauth_module_ready(oauth_type))
            wizard.oauth_note = wizard._oauth_note(oauth_type)

    def _provider_note(self, preset):
        if not preset:
            return self.env._(
                "Enter the IMAP server of your mail provider (it is in their help pages, "
                "often imap.<your domain>); the password is the one of your mailbox."
            )
        if preset.auth == presets.OAUTH:
            return self.env._(
                "%s no longer accepts passwords from mail programs (basic authentication "
                "was switched off): this mailbox can only be connected with Microsoft's "
                "consent (OAuth).",
                preset.name,
            )
        if preset.auth == presets.APP_PASSWORD:
            return self.env._(
                "%s refuses your account password here: create an app password in your "
                "account's security settings (Gmail: turn on 2-Step Verification first; "
                "some providers also need IMAP access turned on) and enter it below.",
                preset.name,
            )
        return self.env._("Enter the password of your %s mailbox.", preset.name)

    def _oauth_note(self, oauth_type):
        if not oauth_type:
            return False
        module = {"gmail": "google_gmail", "outlook": "microsoft_outlook"}[oauth_type]
        if not self._oauth_module_installed(oauth_type):
            return self.env._(
                "Connecting with the provider's consent needs Odoo's module %s, which is "
                "not installed: ask your administrator.",
                module,
            )
        if not self.env.user.has_group("base.group_system"):
            return self.env._(
                "In Odoo 18 only an administrator can give the provider's consent for a "
                "mailbox (module %s): ask your administrator to connect this mailbox.",
                module,
            )
        return False

    @api.model
    def _oauth_module_installed(self, oauth_type):
        mixin = {"gmail": "google.gmail.mixin", "outlook": "microsoft.outlook.mixin"}[oauth_type]
        return mixin in self.env

    @api.model
    def _oauth_module_ready(self, oauth_type):
        """Odoo's own consent flow can start: module installed, and the user is an
        administrator (Odoo 18's consent action and callback refuse everyone else)."""
        return self._oauth_module_installed(oauth_type) and self.env.user.has_group(
            "base.group_system"
        )

    @api.model
    def _mcl_users_may_connect(self):
        params = self.env["ir.config_parameter"].sudo()
        return self.env.user.has_group("base.group_system") or (
            self.env.user.has_group("sales_team.group_sale_salesman")
            and params.get_param(PARAM_ENABLED) in ("1", "True", "true")
        )

    # -- buttons ------------------------------------------------------------------------------
    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Connect My Mailbox"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_test(self):
        """Log in with what was typed and say in one sentence what is wrong, if anything.
        The typed password is used once and cleared from the wizard's row, whatever the
        outcome (Connect asks for it again): it never waits in the database."""
        self.ensure_one()
        try:
            self._check_may_connect()
            self._mcl_try_login()
        except UserError as exc:
            self.write(
                {"test_state": "failed", "test_message": str(exc.args[0]), "password": False}
            )
        else:
            self.write(
                {
                    "test_state": "ok",
                    "test_message": self.env._(
                        "The connection works: %s accepted the login. Enter the password "
                        "again and press Connect (it is not kept after a test).",
                        self.server,
                    ),
                    "password": False,
                }
            )
        return self._reopen()

    def action_connect(self):
        """Create (or reconnect) the user's personal mailbox and schedule its first sync."""
        self.ensure_one()
        self._check_may_connect()
        self._mcl_try_login()
        mailbox = self._mcl_own_mailbox()
        values = self._mcl_connection_values()
        if mailbox:
            mailbox.sudo().write(values)
        else:
            values.update(self._mcl_template_values())
            values.update(
                {
                    "name": f"{self.env.user.name} ({values['email_address']})",
                    "owner_id": self.env.uid,
                    "mailbox_access": "personal",
                    "mcl_connected_by_owner": True,
                }
            )
            mailbox = self.env["fetchmail.server"].sudo().create(values)
        # the folders (IMAP) and the state "done", as an administrator's "Test & Confirm"
        mailbox.sudo().button_confirm_login()
        mailbox.sudo().action_sync_now()
        self.password = False  # the mailbox keeps it; the wizard row lives on for a while
        return self.action_my_mailbox()

    def action_connect_oauth(self):
        """Gmail / Microsoft 365 by the provider's consent, through Odoo's own flow (which
        Odoo 18 reserves to administrators)."""
        self.ensure_one()
        self._check_may_connect(password=False)
        preset = presets.BY_KEY.get(self.provider)
        oauth_type = preset.oauth_server_type if preset else ""
        if not (oauth_type and self._oauth_module_ready(oauth_type)):
            raise UserError(self._oauth_note(oauth_type) or self.env._("OAuth is not available."))
        values = {
            "name": f"{self.env.user.name} ({addresses.normalize(self.email)})",
            "server_type": oauth_type,
            "server": preset.host,
            "port": preset.port,
            "connection_security": preset.security,
            "user": self.email.strip(),
            "email_address": addresses.normalize(self.email),
            "owner_id": self.env.uid,
            "mailbox_access": "personal",
            "mcl_connected_by_owner": True,
        }
        values.update(self._mcl_template_values())
        mailbox = self.env["fetchmail.server"].create(values)  # an administrator: no sudo
        if oauth_type == "gmail":
            return mailbox.open_google_gmail_uri()
        return mailbox.open_microsoft_outlook_uri()

    # -- helpers ------------------------------------------------------------------------------
    def _check_may_connect(self, password=True):
        """May this user connect a mailbox, and (``password``: by address and password) is
        what was typed complete and aimed at a mail port?"""
        if not self._mcl_users_may_connect():
            raise UserError(
                self.env._(
                    "Your administrator has not allowed users to connect their own mailbox "
                    "(CRM settings, Mailboxes)."
                )
            )
        if not (self.email and addresses.domain_of(addresses.normalize(self.email))):
            raise UserError(self.env._("Enter your email address."))
        if not password:
            return
        preset = presets.BY_KEY.get(self.provider)
        if preset and preset.auth == presets.OAUTH:
            raise UserError(self._provider_note(preset))
        if not self.server or not self.port:
            raise UserError(self.env._("Enter the server and the port of your mailbox."))
        if not self.env.user.has_group("base.group_system"):
            allowed = set(presets.STANDARD_PORTS)
            extra = self.env["ir.config_parameter"].sudo().get_param(PARAM_PORTS) or ""
            allowed.update(int(p) for p in extra.replace(" ", "").split(",") if p.isdigit())
            if self.port not in allowed:
                raise UserError(
                    self.env._(
                        "Port %(port)s is not a mail port (%(ports)s): ask your "
                        "administrator to connect this mailbox.",
                        port=self.port,
                        ports=", ".join(str(p) for p in sorted(allowed)),
                    )
                )

    def _mcl_try_login(self):
        """Log in and out; a ``UserError`` with one sentence when it fails."""
        if not self.password:
            if self.test_state:
                raise UserError(
                    self.env._("Enter the password again: it is not kept after a test.")
                )
            raise UserError(self.env._("Enter the password."))
        pop = self.protocol == "pop" and self.provider == presets.OTHER  # presets are IMAP
        module = pop_sync if pop else imap_sync
        try:
            conn = module.connect(
                self.server.strip(),
                int(self.port),
                self.connection_security,
                (self.login or self.email).strip(),
                self.password,
                timeout=15,
                verify=True,
            )
        except Exception as exc:  # noqa: BLE001 (every failure is explained to the user)
            raise UserError(self._failure_sentence(exc)) from None
        module.close(conn)

    def _failure_sentence(self, exc):
        kind = presets.failure_kind(exc)
        values = {"server": self.server, "port": self.port, "error": type(exc).__name__}
        if kind == errors.INTERNAL:
            _logger.exception("Connect my mailbox: unexpected failure of the connection test")
        sentences = {
            presets.HOST_NOT_FOUND: self.env._(
                "There is no server named %(server)s: check the spelling of the IMAP server."
            ),
            presets.REFUSED: self.env._(
                "%(server)s refused the connection on port %(port)s: check the port and the "
                "security setting."
            ),
            errors.UNREACHABLE: self.env._(
                "%(server)s cannot be reached on port %(port)s: check the server name and port."
            ),
            errors.TIMEOUT: self.env._(
                "%(server)s did not answer in time: the server may be down, or a firewall "
                "blocks port %(port)s."
            ),
            errors.TLS_CERT: self.env._(
                "The certificate of %(server)s is not valid for that name: check the server "
                "name (an administrator can connect a server with its own certificate)."
            ),
            errors.TLS: self.env._(
                "The secure connection to %(server)s failed: check the port and the Security "
                "setting (SSL/TLS on port 993, STARTTLS on 143)."
            ),
            errors.AUTH: self.env._(
                "%(server)s refused the user name or the password (for Gmail, Yahoo, iCloud "
                "and others, an app password is needed)."
            ),
            errors.PROTOCOL: self.env._(
                "%(server)s answered in a way a mail server does not: check that it is the "
                "IMAP server and the port is right."
            ),
            errors.FOLDER: self.env._("%(server)s has no inbox for this user."),
            errors.INTERNAL: self.env._(
                "The connection test failed because of an internal error (%(error)s): see "
                "the server log."
            ),
        }
        return sentences[kind] % values

    def _mcl_own_mailbox(self):
        """The user's own personal mailbox for this login and server, if any (Reconnect)."""
        return self.env["fetchmail.server"].search(
            self.env["fetchmail.server"]._mcl_mine_domain()
            + [
                ("user", "=", (self.login or self.email).strip()),
                ("server", "=", self.server.strip()),
            ],
            limit=1,
        )

    def _mcl_connection_values(self):
        """The connection typed in this wizard: the only values it writes on a mailbox that
        already exists (the user's own)."""
        return {
            "server_type": self.protocol if self.provider == presets.OTHER else "imap",
            "server": self.server.strip(),
            "port": self.port,
            "connection_security": self.connection_security,
            "tls_verify": True,
            "user": (self.login or self.email).strip(),
            "password": self.password,
            "email_address": addresses.normalize(self.email),
        }

    @api.model
    def _mcl_template_values(self):
        """The CRM policy of a new personal mailbox: the administrators' template mailbox,
        or the defaults with automatic linking."""
        Mailbox = self.env["fetchmail.server"].sudo()
        template_id = self.env["ir.config_parameter"].sudo().get_param(PARAM_TEMPLATE)
        template = (
            Mailbox.with_context(active_test=False)
            .browse(int(template_id) if template_id and template_id.isdigit() else [])
            .exists()
        )
        if not template:
            return {"crm_link_mode": "auto"}
        names = [
            name
            for name, field in self.env["mailbox.crm.policy"]._fields.items()
            if field.store
            and name not in models.MAGIC_COLUMNS
            and name not in POLICY_FIELDS_SKIPPED
        ] + list(TEMPLATE_FIELDS)
        values = template._convert_to_write({name: template[name] for name in names})
        if values.get("crm_link_mode") == "off":
            values["crm_link_mode"] = "auto"
        return values
