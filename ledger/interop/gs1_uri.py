"""GS1 identifiers in EPCIS: EPC URNs and GS1 Digital Link URIs to one canonical form.

The CBV 2.0 event hash (§8.9) compares identifiers in their *constrained canonical GS1 Digital
Link* form: ``https://id.gs1.org/<primary AI>/<key>`` plus, for serialised or lot-level
identifiers, the one qualifier that matters (``/21/`` serial, ``/10/`` lot, ``/254/`` GLN
extension, ``/235/`` TPX, ``/8011/`` CPI serial). ``canonical_dl`` converts EPC URIs
(``urn:epc:id:``), EPC class URIs (``urn:epc:class:lgtin:``), EPC pattern URIs
(``urn:epc:idpat:…:*``) and any GS1 Digital Link URI (any host, long or short AI names, with
or without a query string). Anything else is returned as ``None`` (the caller keeps the value).

Pure functions; the rules follow GS1 Tag Data Standard 2.0 §6/§7 and GS1 Digital Link 1.2.
"""

from __future__ import annotations

import re

__all__ = ["canonical_dl", "check_digit"]

#: one character of an EPC URI component (TDS 2.0 Table I.3.1-1: GS1 AI encodable chars)
_X = (
    r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
    r"|[!')(*+,.0-9:;=A-Za-z_-])"
)
#: one character of a CPI component (TDS Table I.3.1-2)
_CPI = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
#: characters allowed in a canonical DL qualifier or key value
_C = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of ``digits`` (GS1 General Specifications §7.9.1)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def _enc(value: str) -> str:
    """Percent-encode the characters GS1 Digital Link (Table 7-1) reserves in a path value."""
    for ch, code in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A")):
        value = value.replace(ch, code)
    for ch, code in (("+", "%2B"), (",", "%2C"), (":", "%3A")):
        value = value.replace(ch, code)
    return value


def _gtin(cp: str, ref: str) -> str:
    """GTIN-14 from a company prefix and an indicator-led item reference."""
    raw = ref[0] + cp + ref[1:]
    return raw + check_digit(raw)


def _with_check(raw: str) -> str:
    return raw + check_digit(raw)


def _split(body: str, total: int, n: int = 2) -> list[str] | None:
    """Split ``body`` on its first ``n - 1`` dots; the first two parts together have ``total``
    digits and the company prefix 6-12 of them."""
    parts = body.split(".", n - 1)
    if len(parts) != n or not 6 <= len(parts[0]) <= 12:
        return None
    if len(parts[0]) + len(parts[1]) != total or not (parts[0] + parts[1]).isdigit():
        return None
    return parts


def _epc(scheme: str, body: str) -> str | None:
    """The canonical DL URI of an EPC URI ``urn:epc:id:<scheme>:<body>``."""
    one = re.compile(_X + "+")
    if scheme in ("sgtin", "lgtin", "upui"):
        p = _split(body, 13, 3)
        limit = {"sgtin": 20, "lgtin": 20, "upui": 28}[scheme]
        if p is None or not one.fullmatch(p[2]) or len(p[2]) > limit:
            return None
        ai = {"sgtin": "21", "lgtin": "10", "upui": "235"}[scheme]
        return f"/01/{_gtin(p[0], p[1])}/{ai}/{_enc(p[2])}"
    if scheme in ("sscc", "gsrn", "gsrnp", "gsin", "pgln"):
        total = {"sscc": 17, "gsrn": 17, "gsrnp": 17, "gsin": 16, "pgln": 12}[scheme]
        p = _split(body, total)
        if p is None:
            return None
        if scheme == "sscc":
            return f"/00/{_gtin(p[0], p[1])}"
        ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402", "pgln": "417"}[scheme]
        return f"/{ai}/{_with_check(p[0] + p[1])}"
    if scheme in ("sgln", "grai", "gdti", "sgcn"):
        p = _split(body, 12, 3)
        limit = {"sgln": 20, "grai": 16, "gdti": 20, "sgcn": 12}[scheme]
        if p is None or not p[2] or len(p[2]) > limit:
            return None
        if not (p[2].isdigit() if scheme == "sgcn" else one.fullmatch(p[2])):
            return None
        if scheme == "sgln":
            gln = _with_check(p[0] + p[1])
            return f"/414/{gln}" if p[2] == "0" else f"/414/{gln}/254/{_enc(p[2])}"
        if scheme == "grai":
            return f"/8003/{_with_check('0' + p[0] + p[1])}{_enc(p[2])}"
        ai = {"gdti": "253", "sgcn": "255"}[scheme]
        return f"/{ai}/{_with_check(p[0] + p[1])}{_enc(p[2])}"
    if scheme in ("giai", "ginc"):
        cp, _, ref = body.partition(".")
        if not (cp.isdigit() and 6 <= len(cp) <= 12 and one.fullmatch(ref or "?")):
            return None
        if len(cp) + len(ref) > 30:
            return None
        return f"/{'8004' if scheme == 'giai' else '401'}/{cp}{_enc(ref)}"
    if scheme == "itip":
        p = _split(body, 13, 5)
        if p is None or not (len(p[2]) == len(p[3]) == 2 and (p[2] + p[3]).isdigit()):
            return None
        if not one.fullmatch(p[4]) or len(p[4]) > 20:
            return None
        return f"/8006/{_gtin(p[0], p[1])}{p[2]}{p[3]}/21/{_enc(p[4])}"
    if scheme == "cpi":
        m = re.fullmatch(r"(\d{6,12})\.(" + _CPI + r"+)\.(\d{1,12})", body)
        if m is None or len(m[1]) + len(m[2]) > 30:
            return None
        return f"/8010/{_enc(m[1] + m[2])}/8011/{m[3]}"
    return None


def _pattern(scheme: str, body: str) -> str | None:
    """The canonical DL URI of a whole-class EPC pattern ``urn:epc:idpat:<scheme>:<body>.*``."""
    if not body.endswith(".*"):
        return None
    body = body[:-2]
    if scheme in ("sgtin", "upui"):
        p = _split(body, 13)
        return None if p is None else f"/01/{_gtin(p[0], p[1])}"
    if scheme in ("grai", "gdti", "sgcn"):
        p = _split(body, 12)
        if p is None:
            return None
        return f"/{'8003' if scheme == 'grai' else {'gdti': '253', 'sgcn': '255'}[scheme]}/" + (
            _with_check(("0" if scheme == "grai" else "") + p[0] + p[1])
        )
    if scheme == "itip":
        p = _split(body, 13, 4)
        if p is None or not (len(p[2]) == len(p[3]) == 2 and (p[2] + p[3]).isdigit()):
            return None
        return f"/8006/{_gtin(p[0], p[1])}{p[2]}{p[3]}"
    if scheme == "cpi":
        m = re.fullmatch(r"(\d{6,12})\.(" + _CPI + r"+)", body)
        return None if m is None else f"/8010/{_enc(m[1] + m[2])}"
    return None


_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.+)")

#: GS1 Digital Link short names -> numeric application identifiers
_SHORT_NAMES = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417",
    "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253",
    "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004", "cpv": "22",
    "lot": "10", "ser": "21",
}  # fmt: skip
#: primary keys, in the order a non-canonical URI is searched for them
_PRIMARY: tuple[str, ...] = (
    *("00", "01", "253", "255", "401", "402", "414", "417"),
    *("8003", "8004", "8006", "8010", "8017", "8018"),
)
_DL_ANY = re.compile(
    r"https?:(//(([^/?#]*)@)?[^/?#:]*(:[^/?#]*)?)?[^?#]*/"
    r"(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc"
    r"|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)/\d{4}[^/]+"
)
_DL_HOST = re.compile(r"https://id\.gs1\.org/(" + "|".join(_PRIMARY) + r")/\d{4}")
_DL_FINAL = re.compile(
    "|".join(
        (
            r"00/\d{18}",
            rf"01/\d{{14}}(/21/{_C}{{0,20}}|/10/{_C}{{0,20}}|/235/{_C}{{0,28}})?",
            rf"253/\d{{13}}{_C}{{0,17}}",
            r"255/\d{13}\d{0,12}",
            rf"401/{_C}{{0,30}}",
            r"402/\d{17}",
            rf"414/\d{{13}}(/254/{_C}{{0,20}})?",
            r"417/\d{13}",
            rf"8003/\d{{14}}{_C}{{0,16}}",
            rf"8004/{_C}{{0,30}}",
            rf"8006/\d{{18}}(/21/{_C}{{0,20}}|/10/{_C}{{0,20}})?",
            r"8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}(/8011/\d{0,12})?",
            r"8017/\d{18}",
            r"8018/\d{18}",
        )
    )
)


def _digital_link(uri: str) -> str | None:
    """The canonical form of a GS1 Digital Link URI (any host, short names, query string)."""
    if _DL_ANY.match(uri) is None:
        return None
    uri = uri.split("?", 1)[0]
    for name, ai in _SHORT_NAMES.items():
        uri = uri.replace(f"/{name}/", f"/{ai}/")
    if _DL_HOST.match(uri) is None:
        for ai in _PRIMARY:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    head = "https://id.gs1.org/01/"
    if uri.startswith(head) and not re.match(r"\d{14}", uri[len(head) :]):
        for digits, pad in ((13, "0"), (12, "00"), (8, "000000")):
            if re.match(rf"\d{{{digits}}}", uri[len(head) :]):
                uri = head + pad + uri[len(head) :]
                break
    trade_item = r"https://id\.gs1\.org/(?:01/\d{14}|8006/\d{18})"
    # the consumer product variant (/22/) is not part of the identity: drop it
    if re.fullmatch(trade_item + rf"/22/[/{_C[1:-1]}]{{0,20}}", uri):
        at = uri.index("/22/")
        rest = uri[at + 4 :]
        uri = uri[:at] + (rest[rest.index("/") :] if "/" in rest else "")
    # a serial identifies the instance: its lot is redundant
    if re.fullmatch(trade_item + rf"/10/{_C}{{0,20}}/21/{_C}{{0,20}}", uri):
        at = uri.index("/10/")
        rest = uri[at + 4 :]
        uri = uri[:at] + rest[rest.index("/") :]
    tail = uri[len("https://id.gs1.org/") :]
    if uri.startswith("https://id.gs1.org/") and _DL_FINAL.fullmatch(tail):
        return uri
    return None


def canonical_dl(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of an EPC URI or DL URI; ``None`` if
    ``value`` is neither (or not a well-formed one)."""
    m = _URN.fullmatch(value)
    if m is not None:
        kind, scheme, body = m.groups()
        if kind == "id" and scheme != "lgtin":
            path = _epc(scheme, body)
        elif kind == "class" and scheme == "lgtin":
            path = _epc("lgtin", body)
        elif kind == "idpat":
            path = _pattern(scheme, body)
        else:
            path = None
        return None if path is None else "https://id.gs1.org" + path
    if value.startswith(("http://", "https://")):
        return _digital_link(value)
    return None
