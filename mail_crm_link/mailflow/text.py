"""Bytes and header values → text a database accepts, whatever the ``email`` library hands back.

Every function here is total: it returns a ``str`` and says whether the result is exact or a
best guess (an unknown charset, bytes invalid in the declared one, characters removed), so that
the caller can keep the original bytes of anything that was not read exactly.
"""

import base64
import codecs
import re
from email.header import Header, decode_header

# Charset labels as mail clients use them → the Python codec that reads what they really send
# (a superset, as browsers do: WHATWG Encoding Standard).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "ms_kanji": "cp932",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-2022-jp": "iso2022_jp_ext",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "x-mac-ce": "mac_latin2",
    "unknown-8bit": "utf-8",  # the email library's name for raw 8-bit header bytes
    # Thai and logical-order Hebrew, which Python knows under other names (Odoo's process adds
    # the same aliases to ``codecs``; the parse helper has no Odoo, and reads them the same)
    "874": "cp874",
    "windows-874": "cp874",
    "windows_874": "cp874",
}
# iso-8859-8-i, -e: iso-8859-8; a prefix match, exactly as Odoo's codec alias matches
_HEBREW_LOGICAL = re.compile(r"iso[-_]?8859[-_]8[-_]?[ei]", re.IGNORECASE)
# When the declared charset fails: UTF-8 (what most 8-bit mail is), then Windows-1252, then
# Latin-1, which reads any byte.
FALLBACKS = ("utf-8", "cp1252", "latin-1")

# NUL and the C0 controls but TAB, LF and CR, and lone surrogates (not encodable in UTF-8):
# PostgreSQL refuses NUL in text and psycopg2 cannot send a lone surrogate.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FOLDING = re.compile(r"\r?\n[ \t]*|[\r\n\t]")


def codec(charset):
    """The Python codec for a charset label, or None when there is no text codec of that name."""
    label = (charset or "").strip().strip("\"'").lower()
    label = CHARSET_ALIASES.get(label, label)
    if _HEBREW_LOGICAL.match(label):
        label = "iso8859-8"
    if not label:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, TypeError, ValueError):
        return None
    # base64, rot13, zlib… are codecs too, but not of text
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_bytes(data, charset=None):
    """``(text, exact)``: ``data`` read in ``charset``; when the charset is unknown or the bytes
    are invalid in it, read by the fallbacks and ``exact`` is False. Never raises."""
    name = codec(charset) if charset else "ascii"
    text = _try_decode(data, name) if name else None
    if text is not None:
        return text, True
    for fallback in FALLBACKS:
        try:
            text = data.decode(fallback)
        except UnicodeDecodeError:
            continue
        # 8-bit text without a declared charset is commonly UTF-8: that is a faithful reading
        return text, not charset and fallback == "utf-8"
    return data.decode("latin-1", "replace"), False  # not reached: latin-1 reads any byte


def header_str(value):
    """``(text, exact)`` of a header value as the ``email`` library returns it: ``str``,
    ``Header`` (for raw 8-bit bytes), ``bytes``, ``None``, RFC 2231 tuples, lists. RFC 2047
    encoded words are left as they are (see ``decode_words``)."""
    if value is None:
        return "", True
    if isinstance(value, str):
        if _SURROGATE.search(value):
            # 8-bit bytes kept by the library as surrogate escapes
            try:
                return decode_bytes(value.encode("utf-8", "surrogateescape"), "unknown-8bit")
            except UnicodeEncodeError:  # other lone surrogates: ``clean`` replaces them
                return value, False
        return value, True
    if isinstance(value, bytes | bytearray):
        return decode_bytes(bytes(value), "unknown-8bit")
    if isinstance(value, Header):
        try:
            chunks = decode_header(value)
        except Exception:  # noqa: BLE001
            return _str_or_empty(value), False
        parts, exact = [], True
        for chunk, charset in chunks:
            if isinstance(chunk, str):
                parts.append(chunk)
                continue
            text, ok = decode_bytes(chunk, charset or "unknown-8bit")
            parts.append(text)
            exact = exact and ok
        return "".join(parts), exact
    if isinstance(value, tuple | list):
        if len(value) == 3 and isinstance(value, tuple):  # RFC 2231 (charset, language, value)
            charset, _language, text = value
            text, exact = header_str(text)
            if charset and codec(charset):
                # one character per byte, as email.utils.collapse_rfc2231_value reads it
                return decode_bytes(text.encode("raw-unicode-escape"), charset)
            return text, exact
        parts = [header_str(v) for v in value]
        return " ".join(p for p, _ok in parts), all(ok for _p, ok in parts)
    return _str_or_empty(value), False


# an RFC 2047 encoded word: =?charset[*language]?B|Q?payload?=
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")


def _word_bytes(encoding, payload):
    if encoding in "bB":
        payload = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        return base64.b64decode(payload + "=" * (-len(payload) % 4))
    data = payload.replace("_", " ").encode("ascii", "surrogateescape")
    return _QP_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_words(text):
    """``(text, exact)`` with the RFC 2047 encoded words of ``text`` decoded. Whitespace
    between two encoded words goes (RFC 2047, 6.2) and their bytes are decoded together
    when they share a charset (mailers split a character across words); whitespace between
    an encoded word and plain text stays: ``email.header.decode_header`` drops it, which
    glued "espresso" and "(seconda parte)" of a folded subject together."""
    if "=?" not in text:
        return text, True
    parts, exact, pos = [], True, 0
    pending = None  # [charset, bytes] of adjacent encoded words not decoded yet

    def flush():
        nonlocal pending, exact
        if pending:
            decoded, ok = decode_bytes(bytes(pending[1]), pending[0])
            parts.append(decoded)
            exact = exact and ok
        pending = None

    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        charset, encoding, payload = match.groups()
        charset = charset.split("*")[0].lower()
        pos = match.end()
        try:
            data = _word_bytes(encoding, payload)
        except Exception:  # noqa: BLE001 (a malformed word is kept as it is)
            flush()
            parts.append(between + match.group())
            exact = False
            continue
        if pending and not between.strip() and pending[0] == charset:
            pending[1] += data
            continue
        if not (pending and not between.strip()):
            flush()
            parts.append(between)
        else:
            flush()
        pending = [charset, bytearray(data)]
    flush()
    parts.append(text[pos:])
    return "".join(parts), exact


def clean(text, one_line=False):
    """``(text, changed)``: ``text`` without NUL and C0 controls (but TAB, LF, CR), lone
    surrogates replaced by U+FFFD; ``changed`` when any was. With ``one_line``, folded lines
    are unfolded and TAB/CR/LF become spaces (that alone is not a change)."""
    if not isinstance(text, str):
        text = _str_or_empty(text)
    if one_line:
        text = _FOLDING.sub(" ", text)  # unfolding is reading, not changing
    if not _FORBIDDEN.search(text):
        return text, False
    return _FORBIDDEN.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", text), True


def _try_decode(data, name):
    try:
        return data.decode(name)
    except Exception:  # noqa: BLE001 (any codec failure: the caller falls back)
        return None


def _str_or_empty(value):
    try:
        return str(value)
    except Exception:  # noqa: BLE001 (an object whose str() fails: nothing readable)
        return ""
