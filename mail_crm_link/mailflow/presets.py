"""Connection settings of common mail providers, found from an address (no ``odoo`` import).

Only providers whose IMAP settings are published and well known are listed. ``login`` says
what the provider expects as user name; ``auth`` says how it accepts a login today:

- ``password``: the account's password,
- ``app_password``: a password made for one application in the account's security settings
  (the account password is refused),
- ``oauth``: no password login at all (Microsoft switched basic authentication off for IMAP).
"""

import errno
import socket
from dataclasses import dataclass

from . import addresses, errors

PASSWORD, APP_PASSWORD, OAUTH = "password", "app_password", "oauth"


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    host: str
    port: int
    security: str  # "ssl" | "starttls" | "none"
    auth: str
    domains: tuple = ()
    oauth_server_type: str = ""  # the fetchmail.server type of Odoo's OAuth module, if any


PRESETS = (
    Preset(
        "gmail",
        "Gmail / Google Workspace",
        "imap.gmail.com",
        993,
        "ssl",
        APP_PASSWORD,
        ("gmail.com", "googlemail.com"),
        oauth_server_type="gmail",
    ),
    Preset(
        "outlook",
        "Outlook.com / Microsoft 365",
        "outlook.office365.com",
        993,
        "ssl",
        OAUTH,
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.it", "hotmail.it"),
        oauth_server_type="outlook",
    ),
    Preset(
        "yahoo",
        "Yahoo Mail",
        "imap.mail.yahoo.com",
        993,
        "ssl",
        APP_PASSWORD,
        ("yahoo.com", "yahoo.it", "yahoo.co.uk", "ymail.com", "rocketmail.com"),
    ),
    Preset(
        "icloud",
        "iCloud Mail",
        "imap.mail.me.com",
        993,
        "ssl",
        APP_PASSWORD,
        ("icloud.com", "me.com", "mac.com"),
    ),
    Preset(
        "yandex",
        "Yandex Mail",
        "imap.yandex.com",
        993,
        "ssl",
        APP_PASSWORD,
        ("yandex.ru", "yandex.com", "ya.ru", "yandex.ua", "yandex.by", "yandex.kz"),
    ),
    Preset(
        "mailru",
        "Mail.ru (VK)",
        "imap.mail.ru",
        993,
        "ssl",
        APP_PASSWORD,
        ("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru"),
    ),
    Preset("ukrnet", "Ukr.net", "imap.ukr.net", 993, "ssl", APP_PASSWORD, ("ukr.net",)),
    Preset(
        "libero",
        "Libero Mail",
        "imapmail.libero.it",
        993,
        "ssl",
        PASSWORD,
        ("libero.it", "inwind.it", "blu.it", "iol.it"),
    ),
    # Aruba hosts mail on its customers' own domains: chosen by hand, never detected
    Preset("aruba", "Aruba (hosted domain mail)", "imaps.aruba.it", 993, "ssl", PASSWORD),
)

BY_KEY = {preset.key: preset for preset in PRESETS}
OTHER = "other"

# Ports a mailbox is reached on when a user (not an administrator) types the server himself
STANDARD_PORTS = frozenset({143, 993, 110, 995})


def detect(address):
    """The preset for ``address``'s domain, or ``None`` (a company domain, say)."""
    domain = addresses.domain_of(addresses.normalize(address or ""))
    if not domain:
        return None
    for preset in PRESETS:
        if domain in preset.domains:
            return preset
    return None


# -- what a connection test found --------------------------------------------------------------
HOST_NOT_FOUND, REFUSED = "host_not_found", "refused"


def failure_kind(exc):
    """``errors.classify`` with the two network failures a person fixes differently told
    apart: a server name that does not exist, and a server that refuses the port."""
    if isinstance(exc, socket.gaierror):
        return HOST_NOT_FOUND
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED
    ):
        return REFUSED
    return errors.classify(exc)
