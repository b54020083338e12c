"""Email addresses: normalization and internal/external classification."""

import functools
import re
from email.utils import getaddresses

# An address list longer than this is cut (a list of 1000 recipients is about 30 kB).
MAX_LIST_CHARS = 64 * 1024
# An address longer than this is not one (RFC 5321 allows 254 characters).
MAX_ADDRESS_CHARS = 320
# The bare addresses of a list the library parser cannot read (nested comments or groups make
# it recurse until RecursionError): what looks like local@domain, outside of any syntax.
_ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"@\\]+@[^\s<>()\[\],;:\"@\\]+")
# A bare address made of dot-separated atoms only (RFC 5322 dot-atom, ASCII): the library
# parser gives it back unchanged, so ``normalize`` need not run it (``test_mailflow`` checks
# that both agree).
_DOT_ATOM_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def split_addresses(header_values, max_chars=MAX_LIST_CHARS):
    """Header values → ``(pairs, note)``: ``pairs`` as ``email.utils.getaddresses`` gives them,
    ``note`` empty, or saying what was lost. Never raises.

    Values longer than ``max_chars`` together are cut. When the library parser fails (it
    recurses on nested comments and groups), the bare addresses are taken instead and the
    display names are lost.
    """
    values = [v for v in header_values if isinstance(v, str) and v]
    text = ", ".join(values)
    note = ""
    if len(text) > max_chars:
        text = text[:max_chars].rpartition(",")[0] or text[:max_chars]
        note = f"address list longer than {max_chars} characters cut"
    try:
        return getaddresses([text]), note
    except Exception:  # noqa: BLE001 (RecursionError or any parser failure: bare addresses)
        pairs = [("", a) for a in _ADDR_SPEC.findall(text)]
        return pairs, "address list too complex to read: names dropped"


def normalize(address, fold_plus=False):
    """``'Anna <Anna.S+crm@Bücher.Example>'`` → ``'anna.s+crm@xn--bcher-kva.example'``.

    Lower-case, IDN domain in ASCII (punycode), surrounding quotes and spaces stripped; with
    ``fold_plus`` the ``+tag`` of the local part is dropped. Returns ``''`` for no address.
    """
    if not address or not isinstance(address, str):
        return ""
    if _DOT_ATOM_ADDRESS.fullmatch(address):  # what the parser would give back (most mail)
        addr = address
    else:
        pairs, _note = split_addresses([address], max_chars=4 * MAX_ADDRESS_CHARS)
        addr = (pairs[0][1] if pairs else address).strip().strip("<>").strip()
    if "@" not in addr or len(addr) > MAX_ADDRESS_CHARS:
        return ""
    local, _sep, domain = addr.rpartition("@")
    local = local.strip('"').lower()
    if fold_plus and "+" in local:
        local = local.split("+", 1)[0]
    try:
        domain = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        domain = domain.strip().lower()
    return f"{local}@{domain}" if local and domain else ""


def parse_list(header_values, fold_plus=False):
    """Header values (``To``, ``Cc``…) → list of ``(display name, normalized address)``,
    without duplicates, in order."""
    values = tuple(v for v in header_values if isinstance(v, str) and v)  # what is read
    if sum(map(len, values)) <= _CACHED_LIST_CHARS:
        return list(_parse_list_cached(values, bool(fold_plus)))
    return _parse_list(values, fold_plus)


# The same short lists come back mail after mail (the mailbox's own address, a client's
# From): their parsing is kept, for lists up to this many characters.
_CACHED_LIST_CHARS = 1024


@functools.lru_cache(maxsize=4096)
def _parse_list_cached(values, fold_plus):
    return tuple(_parse_list(values, fold_plus))


def _parse_list(header_values, fold_plus):
    seen, result = set(), []
    pairs, _note = split_addresses(header_values)
    for name, addr in pairs:
        norm = normalize(addr, fold_plus)
        if norm and norm not in seen:
            seen.add(norm)
            result.append((name.strip(), norm))
    return result


def domain_of(address):
    return address.rpartition("@")[2] if address else ""


def parse_internal(text):
    """The mailbox's "internal domains/addresses" setting → frozenset of lower-case entries.

    Entries are separated by commas, semicolons, spaces or new lines; ``@example.com`` and
    ``example.com`` both mean the domain.
    """
    entries = (text or "").replace(";", ",").replace("\n", ",").replace(" ", ",").split(",")
    return frozenset(e.strip().lstrip("@").lower() for e in entries if e.strip().lstrip("@"))


def is_internal(address, internal):
    """True when ``address`` (normalized) is one of ``internal`` or in one of its domains,
    sub-domains included."""
    if not address:
        return False
    if address in internal:
        return True
    domain = domain_of(address)
    while domain:
        if domain in internal:
            return True
        domain = domain.partition(".")[2]
    return False


def in_list(address, entries):
    """True when ``address`` is listed in ``entries`` (a ``parse_internal`` set), itself or by
    its domain: the "never log" and "always create" lists work like the internal domains."""
    return is_internal(address, entries)


def lookup_forms(address, fold_plus=False):
    """The spellings under which ``address`` (normalized) may be stored on a record: Odoo's
    ``email_normalized`` keeps an IDN domain in Unicode, we store it in ASCII; with
    ``fold_plus``, ``anna+news@x`` is also looked up as ``anna@x``."""
    if not address:
        return []
    forms = [address]
    if fold_plus:
        folded = normalize(address, fold_plus=True)
        if folded and folded not in forms:
            forms.append(folded)
    for form in list(forms):
        local, _sep, domain = form.rpartition("@")
        if "xn--" in domain:
            try:
                unicode_form = f"{local}@{domain.encode('ascii').decode('idna')}"
            except UnicodeError:
                continue
            if unicode_form not in forms:
                forms.append(unicode_form)
    return forms
