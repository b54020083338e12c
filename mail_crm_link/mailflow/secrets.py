"""Secrets at rest: mailbox passwords and OAuth tokens encrypted with a key that is not in the
database (no ``odoo`` import).

The key comes from the server configuration (``mail_crm_link_secret_key`` in odoo.conf): one
Fernet key, or several separated by commas to rotate keys (the first encrypts, every one
decrypts). Encrypted values carry ``PREFIX`` so that they are told apart from the plain values
stored before a key was configured, which stay readable as they are.
"""

import functools
from typing import NamedTuple

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "mclenc1$"  # version 1: Fernet (AES-128-CBC + HMAC-SHA256), URL-safe base64 token


class KeyRing(NamedTuple):
    primary: Fernet  # encrypts
    ring: MultiFernet  # decrypts with any configured key


class SecretKeyError(ValueError):
    """The configured key is not a valid Fernet key (never contains the key itself)."""


class SecretUnreadable(Exception):
    """An encrypted value that no configured key opens (the key is missing or another one)."""


def generate_key():
    """A new random key, as written in odoo.conf."""
    return Fernet.generate_key().decode()


@functools.lru_cache(maxsize=8)
def load_keys(raw):
    """The key ring for the configured ``raw`` value (``None`` when there is no key).

    Raises ``SecretKeyError`` when one of the keys is not a Fernet key.
    """
    parts = [part.strip() for part in (raw or "").replace("\n", ",").split(",") if part.strip()]
    if not parts:
        return None
    keys = []
    for position, part in enumerate(parts, start=1):
        try:
            keys.append(Fernet(part.encode()))
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"key number {position} is not a Fernet key (32 bytes, URL-safe base64)"
            ) from None
    return KeyRing(keys[0], MultiFernet(keys))


def is_encrypted(value):
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(value, keys):
    """``value`` encrypted with the first key; unchanged without a key, when empty, or when
    it is already encrypted."""
    if not value or keys is None or is_encrypted(value):
        return value
    return PREFIX + keys.primary.encrypt(value.encode()).decode()


def decrypt(value, keys):
    """The clear value; plain (legacy) values are returned as they are.

    Raises ``SecretUnreadable`` when ``value`` is encrypted and no key opens it.
    """
    if not is_encrypted(value):
        return value
    if keys is None:
        raise SecretUnreadable("no key is configured")
    try:
        return keys.ring.decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured key opens it") from None


def migrate(value, keys):
    """The value as it should be stored with ``keys``: plain values encrypted, values of an
    older key re-encrypted with the first key. Returns ``value`` itself when nothing changes;
    raises ``SecretUnreadable`` for a value no key opens."""
    if not value or keys is None:
        return value
    if not is_encrypted(value):
        return encrypt(value, keys)
    token = value[len(PREFIX) :].encode()
    if _opens(keys.primary, token):
        return value
    try:
        return PREFIX + keys.ring.rotate(token).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured key opens it") from None


def _opens(fernet, token):
    try:
        fernet.decrypt(token)
    except InvalidToken:
        return False
    return True
