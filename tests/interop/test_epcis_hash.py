"""The GS1 CBV 2.0 event hash (spec §13.1) against the reference implementation's vectors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.interop.epcis_hash import (
    EpcisError,
    document_hashes,
    document_prehashes,
    event_hash,
    prehash,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "epcis-event-hash"
EXAMPLES = VECTORS / "examples"
DOCUMENTS = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".jsonld", ".xml"))
#: (document, event index) whose .prehashes line is stale upstream (SOURCE.txt): .hashes rules
STALE_PREHASHES = {
    ("epcisDocWithAllGS1Keys.jsonld", 0),
    ("epcisDocWithCustomSchemaInContext.jsonld", 1),
    ("epcisDocWithDefaultSchemaInContext.jsonld", 1),
}


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_vector_set_is_complete() -> None:
    assert len(DOCUMENTS) == 32
    assert (
        sum(len(lines(p)) for p in EXAMPLES.glob("*.hashes")) == 43
    )  # 22 .hashes files; a .jsonld and an .xml of one name share one


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.name)
def test_hashes_equal_the_vectors(doc: Path) -> None:
    expected = lines(doc.with_suffix(".hashes"))
    assert document_hashes(doc.read_bytes()) == expected


def test_prehash_strings_equal_the_vectors_except_the_three_stale_lines() -> None:
    mismatched = set()
    compared = 0
    for doc in DOCUMENTS:
        if not doc.with_suffix(".prehashes").exists():
            continue
        expected = lines(doc.with_suffix(".prehashes"))
        got = document_prehashes(doc.read_bytes())
        assert len(got) == len(expected), doc.name
        for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
            compared += 1
            if mine != theirs:
                mismatched.add((doc.name, index))
            # the stale lines really are stale: their own sha256 is not the published hash
            published = lines(doc.with_suffix(".hashes"))[index]
            digest = hashlib.sha256(theirs.encode()).hexdigest()
            assert (digest in published) == ((doc.name, index) not in STALE_PREHASHES)
    assert mismatched == STALE_PREHASHES
    assert compared == 66  # .xml and .jsonld of one name share one .prehashes file


@pytest.mark.parametrize(
    "doc", sorted((VECTORS / "expected_equal").iterdir()), ids=lambda p: p.name
)
def test_representations_of_one_event_hash_equal(doc: Path) -> None:
    hashes = document_hashes(doc.read_bytes())
    assert len(hashes) >= 2
    assert len(set(hashes)) == 1


def test_gs1_identical_hash_id_files_give_one_hash() -> None:
    folder = VECTORS / "identical-hash-id"
    hashes = {p.name: document_hashes(p.read_bytes()) for p in sorted(folder.glob("event_with_*"))}
    assert len(hashes) == 7
    assert all(len(h) == 1 for h in hashes.values())
    base = hashes.pop("event_with_identical_hash_id_2.xml")
    assert len({h[0] for h in hashes.values()}) == 1  # 1, 3-6 (XML) and 7 (JSON-LD)
    # _2 only moves the event's zone offset, which CBV 2.0 hashes (spec §13.1): same event
    # otherwise, so its pre-hash is _1's with the other offset
    one = document_prehashes((folder / "event_with_identical_hash_id_1.xml").read_bytes())[0]
    two = document_prehashes((folder / "event_with_identical_hash_id_2.xml").read_bytes())[0]
    assert two == one.replace("eventTimeZoneOffset=-06:00", "eventTimeZoneOffset=-05:00")
    assert base[0] != hashes["event_with_identical_hash_id_1.xml"][0]


def test_distinct_xml_documents_give_distinct_hashes() -> None:
    hashes = [h for p in DOCUMENTS if p.suffix == ".xml" for h in document_hashes(p.read_bytes())]
    assert len(hashes) > 20
    assert len(set(hashes)) == len(hashes)


def test_the_event_api_matches_the_document_api() -> None:
    import json

    doc = json.loads((EXAMPLES / "ReferenceEventHashAlgorithm3.jsonld").read_text())
    event = doc["epcisBody"]["eventList"][0]
    expected = lines(EXAMPLES / "ReferenceEventHashAlgorithm3.hashes")[0]
    assert event_hash(event, doc["@context"]) == expected
    assert prehash(event, doc["@context"]).startswith("eventType=ObjectEventeventTime=")
    assert event_hash(event) != expected  # without the context, example: is no namespace


def test_json_and_xml_are_sniffed_or_forced() -> None:
    xml = (EXAMPLES / "epcisQueryDocument.xml").read_bytes()
    assert document_hashes(xml, fmt="xml") == document_hashes(b"\n  " + xml)
    with pytest.raises(EpcisError, match="not a JSON-LD document"):
        document_hashes(xml, fmt="json")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody><EventList>
<ObjectEvent><eventTime>&lol3;</eventTime></ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<x>&e;</x>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((EXAMPLES / "epcisQueryDocument.xml").read_bytes()[:700], "not well-formed XML"),
        (BILLION_LAUGHS, "XML refused: EntitiesForbidden"),
        (EXTERNAL, "XML refused: EntitiesForbidden"),
        (b'{"type": "EPCISDocument"}', "no epcisBody object"),
        (b"[1, 2]", "not an object"),
        (
            b'{"epcisBody": {"eventList": [{"type": "ObjectEvent"}, {"type": "Foo"}]}}',
            r"event 1 \(Foo\): type is 'Foo'",
        ),
        (
            b'{"epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "yesterday"}]}}',
            r"event 0 \(ObjectEvent\), eventTime: 'yesterday' is not an xsd:dateTime",
        ),
        (
            b'{"epcisBody": {"eventList": [{"type": "ObjectEvent", "a": 1, "a": 2}]}}',
            "duplicate object key",
        ),
        (b"<root/>", "no EventList"),
        (b"hello", "an EPCIS document starts with"),
        (b"<a><EventList><Foo/></EventList></a>", r"event 0 \(Foo\): not an EPCIS 2.0 event"),
    ],
)
def test_malformed_documents_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(EpcisError, match=message) as raised:
        document_hashes(data)
    assert raised.value.code == "invalid_epcis"


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ledger", "epcis", "hash", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_cli_prints_one_hash_per_event_in_document_order() -> None:
    doc = EXAMPLES / "epcisDocWithVariousEventTypes.xml"
    done = run_cli(str(doc))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == lines(doc.with_suffix(".hashes"))
    pre = run_cli("--prehash", "-", stdin=doc.read_bytes())
    assert pre.returncode == 0
    assert pre.stdout.decode().splitlines() == lines(doc.with_suffix(".prehashes"))


def test_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "epcis"}')
    done = run_cli(str(bad))
    assert done.returncode == 1
    assert done.stderr.decode().startswith("error: invalid_epcis: ")
    assert run_cli(str(tmp_path / "missing.xml")).returncode == 2
