"""Conversation threads: which earlier messages a mail answers, and the tracking token that
mail sent from the CRM carries in its Message-ID (no ``odoo`` import).

A client's mail program copies the Message-ID of the mail it answers into In-Reply-To and
References. Mail sent from the CRM gets a Message-ID of the form

    <mcl.l42.3f9a1c2e.9b1d0c4e5f6a7b8c@host>
         │ │   │        └ signature: HMAC-SHA256(secret, "l42.3f9a1c2e"), 16 hex digits
         │ │   └ nonce: makes every Message-ID unique
         │ └ record id
         └ record kind: l = crm.lead, p = res.partner

so a reply finds its record even if the sent mail was never stored, and a forged or mistyped
token finds nothing.
"""

import hashlib
import hmac
import re

KINDS = {"l": "crm.lead", "p": "res.partner"}
CODES = {model: code for code, model in KINDS.items()}
TOKEN_RE = re.compile(r"<mcl\.([lp])(\d{1,18})\.([0-9a-f]{8,32})\.([0-9a-f]{16})@[^>]+>")


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


def make_message_id(model, res_id, secret, host, nonce):
    """A Message-ID carrying a signed token for the record ``model``/``res_id``."""
    payload = f"{CODES[model]}{int(res_id)}.{nonce}"
    return f"<mcl.{payload}.{_signature(secret, payload)}@{host}>"


def read_token(message_id, secret):
    """``(model, res_id)`` from a Message-ID made by ``make_message_id``, else ``None``."""
    match = TOKEN_RE.fullmatch((message_id or "").strip())
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
