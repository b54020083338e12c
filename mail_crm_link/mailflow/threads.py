"""Conversation threads: which earlier messages a mail answers, and the tracking token that
mail sent from the CRM carries in its Message-ID (no ``odoo`` import).

A client's mail program copies the Message-ID of the mail it answers into In-Reply-To and
References. Mail sent from the CRM gets a Message-ID of the form

    <mcl.0f3a9c1e5b7d.5e0c9b1a2f.9b1d0c4e5f6a7b8c@host>
         │            │          └ signature: HMAC-SHA256(secret, nonce.box), 16 hex digits
         │            └ box: the record (kind, 1 byte, and id, 4 bytes) XOR a key stream
         │              drawn from HMAC-SHA256(secret, "box" + nonce): opaque to recipients
         └ nonce: 48 random bits, makes every Message-ID unique (and every box different)

so a reply finds its record even if the sent mail was never stored, a forged or mistyped
token finds nothing, and the Message-ID a recipient sees says nothing about the CRM (it used
to show the record's id: ``<mcl.l42.…>``). Tokens of that older form, in replies to mail
sent before, are still read.
"""

import hashlib
import hmac
import re

KINDS = {"l": "crm.lead", "p": "res.partner"}
CODES = {model: code for code, model in KINDS.items()}
TOKEN_RE = re.compile(r"<mcl\.([0-9a-f]{12})\.([0-9a-f]{10})\.([0-9a-f]{16})@[^>]+>")
LEGACY_TOKEN_RE = re.compile(r"<mcl\.([lp])(\d{1,18})\.([0-9a-f]{8,32})\.([0-9a-f]{16})@[^>]+>")
_BOX_BYTES = 5  # the kind code (1 byte) and the record id (4 bytes, big-endian: Odoo's
# ids are int4); short enough for the whole header to stay on one line (78 characters)
# with a usual host name


def ancestors(in_reply_to, references):
    """The Message-IDs a mail answers, nearest first, without duplicates."""
    refs = [r for r in (references or "").split() if r]
    ordered = [in_reply_to] if in_reply_to else []
    ordered += reversed(refs)
    seen, result = set(), []
    for ref in ordered:
        if ref not in seen:
            seen.add(ref)
            result.append(ref)
    return result


def conversation(references, in_reply_to, message_id):
    """The first Message-ID of a mail's thread (its References' first, else what it
    answers, else its own), or False: mails of one conversation share it."""
    refs = (references or "").split()
    return refs[0] if refs else (in_reply_to or message_id or False)


def _signature(secret, payload):
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:16]


def _key_stream(secret, nonce):
    return hmac.new(secret.encode(), b"box" + nonce.encode(), hashlib.sha256).digest()


def _box(secret, nonce, data):
    """``data`` XOR the key stream of ``nonce`` (its own inverse)."""
    return bytes(a ^ b for a, b in zip(data, _key_stream(secret, nonce), strict=False))


def make_message_id(model, res_id, secret, host, nonce):
    """A Message-ID carrying an opaque, signed token for the record ``model``/``res_id``;
    ``nonce``: 12 random hex digits (``secrets.token_hex(6)``)."""
    nonce = nonce.lower()
    if not re.fullmatch(r"[0-9a-f]{12}", nonce):
        raise ValueError("the nonce is 12 hex digits")
    data = CODES[model].encode() + int(res_id).to_bytes(_BOX_BYTES - 1, "big")
    box = _box(secret, nonce, data).hex()
    return f"<mcl.{nonce}.{box}.{_signature(secret, f'{nonce}.{box}')}@{host}>"


def read_token(message_id, secret):
    """``(model, res_id)`` from a Message-ID made by ``make_message_id`` (or by its older
    form, that showed the id), else ``None``."""
    message_id = (message_id or "").strip()
    match = TOKEN_RE.fullmatch(message_id)
    if match:
        nonce, box, signature = match.groups()
        if not hmac.compare_digest(signature, _signature(secret, f"{nonce}.{box}")):
            return None
        data = _box(secret, nonce, bytes.fromhex(box))
        model = KINDS.get(data[:1].decode("latin-1"))
        res_id = int.from_bytes(data[1:], "big")
        return (model, res_id) if model and res_id else None
    match = LEGACY_TOKEN_RE.fullmatch(message_id)
    if not match:
        return None
    code, res_id, nonce, signature = match.groups()
    expected = _signature(secret, f"{code}{res_id}.{nonce}")
    if not hmac.compare_digest(signature, expected):
        return None
    return KINDS[code], int(res_id)


def tokens(message_ids, secret):
    """Every valid ``(model, res_id)`` carried by ``message_ids``, in order, once."""
    found = []
    for message_id in message_ids:
        token = read_token(message_id, secret)
        if token and token not in found:
            found.append(token)
    return found
