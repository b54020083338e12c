import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, config

from ..mailflow import secrets
from .fields_extra import CONFIG_KEY, SecretChar

_logger = logging.getLogger(__name__)

_STARTUP_CHECKED = set()  # databases whose key check was logged by this process


class MailboxSecrets(models.AbstractModel):
    """Secrets of a mailbox at rest: its password and, when Odoo's ``google_gmail`` or
    ``microsoft_outlook`` is installed, its OAuth tokens, stored encrypted with the server's
    key (option ``mail_crm_link_secret_key``, never in the database).

    Mixed into ``fetchmail.server``. The token fields belong to modules mail_crm_link does not
    depend on and which may load before or after it, so their field class is made
    ``SecretChar`` once the model's fields are known (``_setup_base`` on Odoo 18,
    ``_post_model_setup__`` on Odoo 19) rather than by redefining them here (which would
    create them where those modules are absent).
    """

    _name = "mailbox.secrets"
    _description = "Mailbox Secrets at Rest"

    _mcl_secret_fields = (
        "password",
        "google_gmail_authorization_code",
        "google_gmail_refresh_token",
        "google_gmail_access_token",
        "microsoft_outlook_refresh_token",
        "microsoft_outlook_access_token",
    )

    def _setup_base(self):
        # Odoo 18: once the model's fields are known
        result = super()._setup_base()
        self._mcl_setup_secret_fields()
        return result

    @api.model
    def _post_model_setup__(self):
        # Odoo 19 has no ``_setup_base``: its model setup ends here, for every model
        result = super()._post_model_setup__()
        self._mcl_setup_secret_fields()
        return result

    def _mcl_setup_secret_fields(self):
        for name in self._mcl_secret_fields:
            field = self._fields.get(name)
            # only the registry's own field object (never a definition shared by registries)
            if field is not None and field._toplevel and type(field) is fields.Char:
                field.__class__ = SecretChar

    def _register_hook(self):
        super()._register_hook()
        if self._name == "fetchmail.server" and self.env.cr.dbname not in _STARTUP_CHECKED:
            _STARTUP_CHECKED.add(self.env.cr.dbname)
            self._mcl_check_secret_key()

    @api.model
    def _mcl_check_secret_key(self):
        """Say in the log, once per database and process, what protects the secrets."""
        try:
            keys = secrets.load_keys(odoo_config_value())
        except secrets.SecretKeyError as exc:
            _logger.error(
                "mail_crm_link: option %s of the server configuration is not valid (%s): "
                "mailbox passwords and OAuth tokens cannot be saved until it is fixed.",
                CONFIG_KEY,
                exc,
            )
            return
        if keys is None:
            _logger.warning(
                "mail_crm_link: no %s in the server configuration: mailbox passwords and "
                "OAuth tokens are stored in clear in the database. Add a key to odoo.conf "
                '(python3 -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"), restart, and run '
                "env['fetchmail.server']._mcl_encrypt_secrets() in odoo-bin shell.",
                CONFIG_KEY,
            )
            return
        plain, unreadable = self._mcl_secret_census(keys)
        if plain:
            _logger.warning(
                "mail_crm_link: %s mailbox secrets are still stored in clear or with an old "
                "key: run env['fetchmail.server']._mcl_encrypt_secrets() in odoo-bin shell "
                "(or the button in the CRM settings).",
                plain,
            )
        if unreadable:
            _logger.error(
                "mail_crm_link: %s mailbox secrets were encrypted with a key the server does "
                "not have (option %s): those mailboxes cannot log in until the key is added "
                "back or their passwords are entered again.",
                unreadable,
                CONFIG_KEY,
            )

    def _mcl_secret_columns(self):
        mailbox = self.env["fetchmail.server"]
        return [
            name
            for name in self._mcl_secret_fields
            if name in mailbox._fields and mailbox._fields[name].store
        ]

    def _mcl_secret_census(self, keys):
        """(values to encrypt or re-encrypt, values no key opens), read from the columns."""
        plain = unreadable = 0
        for _id, _name, value in self._mcl_stored_secrets():
            try:
                if secrets.migrate(value, keys) != value:
                    plain += 1
            except secrets.SecretUnreadable:
                unreadable += 1
        return plain, unreadable

    def _mcl_stored_secrets(self):
        """(id, column, stored value) of every non-empty secret, as the column holds it: the
        ORM would return clear values, and the point here is what is on disk."""
        self.env["fetchmail.server"].flush_model()
        for name in self._mcl_secret_columns():
            rows = self.env.execute_query(
                SQL(
                    "SELECT id, %s FROM fetchmail_server WHERE %s IS NOT NULL AND %s != ''",
                    SQL.identifier(name),
                    SQL.identifier(name),
                    SQL.identifier(name),
                )
            )
            for row_id, value in rows:
                yield row_id, name, value

    @api.model
    def _mcl_encrypt_secrets(self):
        """Encrypt the secrets stored in clear (and re-encrypt those of an older key with the
        first one) once a key is configured; returns how many were rewritten. Idempotent;
        run it once after adding or rotating the key (``odoo-bin shell``, or the button in
        the CRM settings)."""
        if not (self.env.su or self.env.is_system()):
            raise UserError(self.env._("Only administrators can encrypt the mailbox secrets."))
        try:
            keys = secrets.load_keys(odoo_config_value())
        except secrets.SecretKeyError as exc:
            raise UserError(
                self.env._("The key of the server configuration is not valid: %s", exc)
            ) from None
        if keys is None:
            raise UserError(
                self.env._(
                    "The server has no encryption key: add the option %s to its "
                    "configuration file and restart it first.",
                    CONFIG_KEY,
                )
            )
        changed = 0
        for row_id, name, value in list(self._mcl_stored_secrets()):
            try:
                new = secrets.migrate(value, keys)
            except secrets.SecretUnreadable:
                _logger.warning(
                    "mail_crm_link: %s of mailbox id %s is encrypted with an unknown key; "
                    "left as it is.",
                    name,
                    row_id,
                )
                continue
            if new != value:
                self.env.cr.execute(
                    SQL(
                        "UPDATE fetchmail_server SET %s = %s WHERE id = %s",
                        SQL.identifier(name),
                        new,
                        row_id,
                    )
                )
                changed += 1
        self.env["fetchmail.server"].invalidate_model(self._mcl_secret_columns())
        _logger.info("mail_crm_link: %s mailbox secrets encrypted", changed)
        return changed

    def _mcl_secret(self, name):
        """The clear value of secret ``name`` of this mailbox, for logging in; a clear
        error when it is encrypted with a key the server does not have."""
        self.ensure_one()
        value = self.sudo()[name]
        if secrets.is_encrypted(value):
            raise UserError(
                self.env._(
                    "The password of mailbox %(name)s is stored encrypted with a key this "
                    "server does not have (option %(option)s): add that key back to the "
                    "server configuration, or enter the password again.",
                    name=self.display_name,
                    option=CONFIG_KEY,
                )
            )
        return value


def odoo_config_value():
    return config.get(CONFIG_KEY) or None
