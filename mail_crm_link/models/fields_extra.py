from odoo import fields, tools
from odoo.exceptions import UserError

from ..mailflow import secrets


class BigInteger(fields.Integer):
    """An integer stored as PostgreSQL ``bigint``: IMAP UIDs and UIDVALIDITY are unsigned 32-bit
    values and do not fit Odoo's ``int4`` integers."""

    column_type = ("int8", "int8")


# -- secrets at rest ---------------------------------------------------------------------------
CONFIG_KEY = "mail_crm_link_secret_key"


def secret_keys(env=None):
    """The key ring of the server configuration (``None`` without a key). A key that is not
    valid gives ``None`` too for reading (the startup check of ``mailbox.secrets`` says so in
    the log), and given ``env`` (writing a secret) a ``UserError`` that names the option:
    a secret is never written in clear because the key was mistyped (issue 23, finding 12)."""
    try:
        return secrets.load_keys(tools.config.get(CONFIG_KEY) or None)
    except secrets.SecretKeyError as exc:
        if env is not None:
            raise UserError(
                env._(
                    "The option %(option)s of the server configuration is not valid "
                    "(%(problem)s): mailbox passwords and tokens cannot be saved until an "
                    "administrator fixes it.",
                    option=CONFIG_KEY,
                    problem=exc,
                )
            ) from None
        return None


def secret_key_problem():
    """Why the configured key is not valid, or None (no key, or a valid one)."""
    try:
        secrets.load_keys(tools.config.get(CONFIG_KEY) or None)
    except secrets.SecretKeyError as exc:
        return str(exc)
    return None


class SecretChar(fields.Char):
    """A ``Char`` stored encrypted (``mailflow.secrets``) when the server has a key.

    The database column holds the encrypted value; the ORM cache may hold either the value
    read from the column or a clear value just written, and every read (``record.field``,
    ``read()``, ``mapped()``) returns the clear value. Values stored in clear before a key was
    configured stay readable; ``mailbox.secrets._mcl_encrypt_secrets`` encrypts them. A value
    that no configured key opens reads as itself (still encrypted): the code that uses it
    checks ``secrets.is_encrypted`` and says the key is missing.
    """

    def convert_to_column(self, value, record, values=None, validate=True):
        value = super().convert_to_column(value, record, values, validate)
        return secrets.encrypt(value, secret_keys(record.env)) if value else value

    def convert_to_record(self, value, record):
        value = super().convert_to_record(value, record)
        if not secrets.is_encrypted(value):
            return value
        try:
            return secrets.decrypt(value, secret_keys())
        except secrets.SecretUnreadable:
            return value

    def convert_to_record_multi(self, values, records):
        return [self.convert_to_record(value, records) for value in values]


class TypedSecretChar(SecretChar):
    """A secret a user types in a form (the "Connect my mailbox" wizard's password): stored
    as ``SecretChar``, readable by the server code, but never sent back to any client (read,
    web_read, search_read, export): the field groups of a secret, for a field its own user
    must be able to write."""

    def convert_to_read(self, value, record, use_display_name=True):
        return False

    def convert_to_export(self, value, record):
        return ""
