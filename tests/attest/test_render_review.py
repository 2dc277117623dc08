"""A partner's longest allowed name cannot break another party's certificate PDF (review 9)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.attest.render import certificate_html, certificate_pdf
from tests.attest.test_render_pdf import URL, certs, ledger  # noqa: F401 (fixtures)


@pytest.mark.parametrize("name", ["W" * 1024, "가" * 341, "Wide " * 204])
def test_a_party_name_of_the_largest_allowed_size_still_renders(
    certs: dict[str, dict[str, Any]],  # noqa: F811
    name: str,
) -> None:
    cred = copy.deepcopy(certs["enclosure"])
    for party in cred["credentialSubject"]["parties"].values():
        party["name"] = name
    pdf = certificate_pdf(cred, verify_url=URL)
    assert pdf.startswith(b"%PDF")
    assert name[:20] in certificate_html(cred, verify_url=URL)


@pytest.mark.parametrize("name", ["W" * 1024, "가" * 341])
def test_a_party_name_of_the_largest_allowed_size_stays_inside_the_margins(
    certs: dict[str, dict[str, Any]],  # noqa: F811
    name: str,
) -> None:
    from tests.attest.test_render_pdf import (
        test_every_character_is_inside_the_margins_and_off_the_qr_code as inside,
    )

    cred = copy.deepcopy(certs["enclosure"])
    for party in cred["credentialSubject"]["parties"].values():
        party["name"] = name
    inside({"enclosure": cred}, "enclosure", "en+ko")
