"""Open tracking of mail written from the CRM (no ``odoo`` import).

Each tracked mail gets a random token (stored on the mail) and the image URL carries the
token and its HMAC signature: an address that was not issued by this database finds
nothing, and a valid one cannot be derived from another.
"""

import email
import email.encoders
import email.policy
import hashlib
import hmac
import html

PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def sign(token, secret):
    return hmac.new(secret.encode(), f"open:{token}".encode(), hashlib.sha256).hexdigest()[:32]


def verify(token, signature, secret):
    return bool(token) and hmac.compare_digest(sign(token, secret), signature or "")


def pixel_url(base_url, token, secret):
    return f"{base_url.rstrip('/')}/mail_crm_link/open/{token}/{sign(token, secret)}.gif"


PIXEL_TAG = '<img src="{url}" width="1" height="1" alt="" style="display:none"/>'
OPEN_REPEAT_SECONDS = 60  # opens of one mail closer together than this count once


def pixel_tag(url):
    return PIXEL_TAG.format(url=html.escape(url, quote=True))


def add_pixel(raw, url):
    """The copy of ``raw`` (a MIME message, bytes) that goes to the recipient: the tracking
    image appended to its HTML part(s), before ``</body>`` when there is one. The stored mail,
    the chatter entry and the Sent-folder copy keep ``raw`` as it is, so nobody but the
    recipient ever loads the image. A mail without an HTML part is returned unchanged."""
    tag = pixel_tag(url)

    def insert(text):
        at = text.lower().rfind("</body>")
        return text[:at] + tag + text[at:] if at >= 0 else text + tag

    return _rewrite_html(raw, insert)


def remove_pixel(raw, url):
    """``raw`` without the image ``add_pixel`` put in (the copy kept in the Sent folder of a
    mail as the server took it)."""
    tag = pixel_tag(url)
    return _rewrite_html(raw, lambda text: text.replace(tag, ""))


def _rewrite_html(raw, change):
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    changed = False
    for part in message.walk():
        if part.get_content_type() != "text/html" or part.get_filename():
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = part.get_payload(decode=True).decode(charset)
        except (LookupError, UnicodeDecodeError, AttributeError):
            continue  # a part we could not write back as it was: left untouched
        new = change(text)
        if new == text:
            continue
        encoding = part.get("Content-Transfer-Encoding", "").strip().lower()
        data = new.encode(charset)
        del part["Content-Transfer-Encoding"]
        part.set_payload(data)
        if encoding == "base64":  # as it was written
            email.encoders.encode_base64(part)
        elif encoding == "quoted-printable" or not data.isascii():
            email.encoders.encode_quopri(part)
        else:
            email.encoders.encode_7or8bit(part)
        changed = True
    return message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n")) if changed else raw
