"""Inline images: a mail's ``<img src="cid:…">`` pointed at the files stored with it.

A mail program shows the image a body names by Content-ID (a signature's logo, a pasted
screenshot) from the mail's own parts; a browser knows no ``cid:`` address and shows a
broken image. Once the parts are stored, the body names each by its address in Odoo, as
Odoo's own mail gateway does (``mail.thread._message_post_process_attachments``). Pure: no
Odoo here; the caller says which Content-ID became which address.
"""

import re
from urllib.parse import unquote

# src = "cid:…" as the sanitizer writes it back (quoted; either quote), case-insensitive
_CID_SRC = re.compile(r"""(\bsrc\s*=\s*)(["'])\s*cid:([^"']*)\2""", re.IGNORECASE)


def content_id_key(value):
    """The form a Content-ID is compared in: without its angle brackets and spaces,
    percent-decoded (RFC 2392 writes ``cid:`` URLs encoded, the header plain), lower case
    (mail programs differ in case)."""
    return unquote(str(value or "")).strip().strip("<>").strip().lower()


def cids(html):
    """The Content-IDs ``html`` shows as images, as ``content_id_key`` compares them."""
    return {content_id_key(match.group(3)) for match in _CID_SRC.finditer(html or "")}


def resolve(html, urls):
    """``html`` with each ``cid:`` image source found in ``urls`` ({``content_id_key``:
    address}) replaced by its address; the others are left as they are (a part the mail
    names but does not carry). Returns ``(html, how many were replaced)``."""
    if not html or not urls:
        return html, 0
    count = 0

    def replace(match):
        nonlocal count
        url = urls.get(content_id_key(match.group(3)))
        if not url:
            return match.group(0)
        count += 1
        return f"{match.group(1)}{match.group(2)}{url}{match.group(2)}"

    return _CID_SRC.sub(replace, html), count
