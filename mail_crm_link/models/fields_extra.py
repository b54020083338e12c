from odoo import fields


class BigInteger(fields.Integer):
    """An integer stored as PostgreSQL ``bigint``: IMAP UIDs and UIDVALIDITY are unsigned 32-bit
    values and do not fit Odoo's ``int4`` integers."""

    column_type = ("int8", "int8")
