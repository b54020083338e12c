"""Open tracking of mail written from the CRM (no ``odoo`` import).

Each tracked mail gets a random token (stored on the mail) and the image URL carries the
token and its HMAC signature: an address that was not issued by this database finds
nothing, and a valid one cannot be derived from another.
"""

import hashlib
import hmac

PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def sign(token, secret):
    return hmac.new(secret.encode(), f"open:{token}".encode(), hashlib.sha256).hexdigest()[:32]


def verify(token, signature, secret):
    return bool(token) and hmac.compare_digest(sign(token, secret), signature or "")


def pixel_url(base_url, token, secret):
    return f"{base_url.rstrip('/')}/mail_crm_link/open/{token}/{sign(token, secret)}.gif"
