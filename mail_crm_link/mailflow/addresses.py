"""Email addresses: normalization and internal/external classification."""

from email.utils import getaddresses


def normalize(address, fold_plus=False):
    """``'Anna <Anna.S+crm@Bücher.Example>'`` → ``'anna.s+crm@xn--bcher-kva.example'``.

    Lower-case, IDN domain in ASCII (punycode), surrounding quotes and spaces stripped; with
    ``fold_plus`` the ``+tag`` of the local part is dropped. Returns ``''`` for no address.
    """
    if not address:
        return ""
    pairs = getaddresses([address])
    addr = (pairs[0][1] if pairs else address).strip().strip("<>").strip()
    if "@" not in addr:
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
    seen, result = set(), []
    for name, addr in getaddresses([v for v in header_values if v]):
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
