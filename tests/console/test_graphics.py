"""The console's SVG pictures (api/console/graphics.py) on the running example's real ledger:
the enclosure lot's provenance graph and recycled shares, as an auditor and as packco sees them,
plus hand-made graphs for what a real ledger never gives (hostile text, hidden inputs, 200 lots).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring

from api.console.graphics import (
    EDGE_COLOUR,
    FILLS,
    FONT_FAMILY,
    TEXT_COLOUR,
    provenance_svg,
    shares_svg,
)
from ledger.attest.render import CATEGORY_LABELS
from tests.support.ledgers import scenario_ledger
from tests.support.scenario import BILLET, ENCLOSURE, NISO4, PRIMARY, SCRAP

NS = "{http://www.w3.org/2000/svg}"
DAY = date(2026, 1, 1)
ISOLATES = str.maketrans("", "", "\u2068\u2069")


@dataclass(frozen=True)
class Data:
    graph: dict[str, Any]
    packco_graph: dict[str, Any]
    packco_view: frozenset[str]
    all_lots: frozenset[str]
    report: dict[str, Any]
    niso4_report: dict[str, Any]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    url = f"sqlite:///{tmp_path_factory.mktemp('graphics')}/ledger.db"
    with scenario_ledger(url) as led:
        view = led.partner_view("packco")  # as api/routes/lots.py passes view_of(...)
        yield Data(
            graph=led.provenance(ENCLOSURE),
            packco_graph=led.provenance(ENCLOSURE, view),
            packco_view=frozenset(view),
            all_lots=frozenset(lot.lot for lot in led.list_lots(limit=1000)),
            report=led.recycled_content(ENCLOSURE, as_of=DAY),
            niso4_report=led.recycled_content(NISO4, as_of=DAY),
        )


class Links:
    """A ``link`` that records the lots it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, lot: str) -> str:
        self.asked.append(lot)
        return "/console/lots/" + quote(lot, safe="")


def render(graph: dict[str, Any], lang: str = "en") -> tuple[str, Element, Links]:
    links = Links()
    svg = provenance_svg(graph, lang=lang, link=links)
    return svg, fromstring(svg), links


def tag(el: Element) -> str:
    return el.tag.removeprefix(NS)


def nodes(root: Element) -> list[Element]:
    return [el for el in root.iter() if el.get("class") == "ltl-node"]


def edges(root: Element) -> list[Element]:
    return [el for el in root.iter() if el.get("class") == "ltl-edge"]


def title(el: Element) -> str:
    found = el.find(f"{NS}title")
    assert found is not None and found.text is not None
    return found.text.translate(ISOLATES)


def desc_of(root: Element) -> str:
    found = root.find(f"{NS}desc")
    assert found is not None and found.text is not None
    return found.text.translate(ISOLATES)


def node_lot(el: Element) -> str:
    """The lot id a box stands for: its title's first line."""
    return title(el).split("\n")[0]


def rect(el: Element) -> Element:
    found = el.find(f"{NS}rect")
    assert found is not None
    return found


def texts(el: Element) -> list[str]:
    return [t.text or "" for t in el.iter(f"{NS}text")]


def everything(root: Element) -> str:
    """Every text and attribute value of a document, unescaped, one per line."""
    out = []
    for el in root.iter():
        out.extend([el.text or "", el.tail or "", *el.attrib.values()])
    return "\n".join(out)


# --- WCAG 2.x contrast -----------------------------------------------------------------------


def luminance(colour: str) -> float:
    """The relative luminance of an sRGB ``#rrggbb`` colour (WCAG 2.x)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


# --- the provenance graph --------------------------------------------------------------------


def test_enclosure_graph_is_well_formed_with_one_box_per_lot_in_its_category_colour(
    data: Data,
) -> None:
    _, root, _ = render(data.graph)
    assert tag(root) == "svg" and root.get("role") == "group"  # its lots are links
    assert root.get("font-family") == FONT_FAMILY
    drawn = {node_lot(el): el for el in nodes(root)}
    assert sorted(drawn) == sorted(n["lot"] for n in data.graph["nodes"])
    expected = {
        SCRAP: "post_consumer",  # lot.create, source post_consumer
        PRIMARY: "virgin",  # lot.create, source virgin
        BILLET: "derived",  # transform outputs: source null
        ENCLOSURE: "derived",
    }
    for lot, category in expected.items():
        assert drawn[lot].get("data-category") == category
        assert rect(drawn[lot]).get("fill") == FILLS[category]
    assert len(set(FILLS.values())) == len(FILLS)  # one colour per category
    # the box shows the id, the material and the mass in kg
    scrap = texts(drawn[SCRAP])
    assert scrap[:3] == [SCRAP, "aluminium scrap", "0 kg · consumed"]
    assert "19,500 kg · held" in texts(drawn[ENCLOSURE])


def test_sources_left_viewed_lot_right_and_the_viewed_lot_highlighted(data: Data) -> None:
    _, root, _ = render(data.graph)
    x = {node_lot(el): float(rect(el).get("x", "nan")) for el in nodes(root)}
    assert x[SCRAP] == x[PRIMARY] < x[BILLET] < x[ENCLOSURE]
    current = [el for el in nodes(root) if el.get("aria-current") == "page"]
    assert [node_lot(el) for el in current] == [ENCLOSURE]
    widths = {node_lot(el): float(rect(el).get("stroke-width", "0")) for el in nodes(root)}
    assert widths[ENCLOSURE] > max(w for lot, w in widths.items() if lot != ENCLOSURE)


def test_edge_widths_follow_the_masses(data: Data) -> None:
    _, root, _ = render(data.graph)
    drawn = edges(root)
    masses = sorted(Decimal(e["mass_kg"]) for e in data.graph["edges"] if e["kind"] == "transform")
    assert len(drawn) == len(masses) == 3
    by_mass = {}
    for el in drawn:
        path = el.find(f"{NS}path")
        assert path is not None
        mass = Decimal(el.get("data-mass-kg", "").replace(",", ""))
        by_mass[mass] = Decimal(path.get("stroke-width", ""))
        assert f"{el.get('data-mass-kg')} kg" in title(el)
        assert path.get("stroke") == EDGE_COLOUR
    assert sorted(by_mass) == masses
    widths = [by_mass[m] for m in masses]
    assert widths == sorted(widths) and len(set(widths)) == 3
    heaviest = masses[-1]
    assert by_mass[heaviest] == Decimal("12.00")
    for m in masses:  # 1.5 px + 10.5 px x mass / heaviest, in Decimal, to the hundredth
        assert by_mass[m] == (Decimal("1.5") + Decimal("10.5") * m / heaviest).quantize(
            Decimal("0.01")
        )
    melt = [title(el) for el in drawn if el.get("data-mass-kg") == "19,850"]
    assert melt == [f"{SCRAP} → {BILLET}: 19,850 kg into melt and cast by alus"]


def test_every_box_links_to_its_lot_page(data: Data) -> None:
    _, root, links = render(data.graph)
    assert sorted(links.asked) == sorted(n["lot"] for n in data.graph["nodes"])
    for el in nodes(root):
        assert tag(el) == "a"
        assert el.get("href") == "/console/lots/" + quote(node_lot(el), safe="")


def test_shipments_are_notes_on_their_lot_not_edges(data: Data) -> None:
    _, root, _ = render(data.graph)
    drawn = {node_lot(el): el for el in nodes(root)}
    note = "shipped bwm → alus, 20,000 kg"
    assert note in title(drawn[SCRAP]).split("\n")
    assert note in [t.translate(ISOLATES) for t in texts(drawn[SCRAP])]
    assert "shipped alus → packco, 19,500 kg" in title(drawn[ENCLOSURE])
    assert "shipped" not in title(drawn[PRIMARY])
    assert len(edges(root)) == 3  # the transforms' inputs only


def test_accessible_name_and_description(data: Data) -> None:
    _, root, _ = render(data.graph)
    ident = root.get("id")
    assert root.get("aria-labelledby") == f"{ident}-title {ident}-desc"
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    assert tag(by_id[f"{ident}-title"]) == "title"
    assert tag(by_id[f"{ident}-desc"]) == "desc"
    assert (by_id[f"{ident}-title"].text or "").translate(
        ISOLATES
    ) == f"Provenance of lot {ENCLOSURE}"
    assert (by_id[f"{ident}-desc"].text or "").translate(ISOLATES) == (
        f"Provenance of lot {ENCLOSURE}: 4 lots, 2 transforms with 3 inputs, 2 shipments."
    )
    assert [tag(c) for c in root][:2] == ["title", "desc"]


def test_text_is_readable(data: Data) -> None:
    """≥ 12 px, dark text on light fills at ≥ 4.5:1, edges ≥ 3:1 on the white background."""
    for svg in (
        provenance_svg(data.graph, lang="ko", link=Links()),
        provenance_svg(hidden_graph(data.graph), lang="en", link=Links()),
        shares_svg(data.report, lang="en"),
    ):
        root = fromstring(svg)
        sizes = [float(t.get("font-size", "0")) for t in root.iter(f"{NS}text")]
        assert sizes and min(sizes) >= 12
        assert {t.get("fill") for t in root.iter(f"{NS}text")} == {TEXT_COLOUR}
        for el in nodes(root):  # text on the box's fill
            for t in el.iter(f"{NS}text"):
                assert contrast(t.get("fill", ""), rect(el).get("fill", "")) >= 4.5
    for fill in [*FILLS.values(), "#ffffff"]:  # every fill text may sit on
        assert contrast(TEXT_COLOUR, fill) >= 4.5, fill
    assert contrast(EDGE_COLOUR, "#ffffff") >= 3


def test_legend_lists_the_categories_that_occur_only(data: Data) -> None:
    _, root, _ = render(data.graph)
    legend = [el for el in root.iter() if el.get("class") == "ltl-legend-item"]
    keys = [el.get("data-category") for el in legend if el.get("data-category")]
    assert keys == ["post_consumer", "virgin", "derived"]
    names = {key: en for key, en, _ in CATEGORY_LABELS}
    labels = [texts(el)[0] for el in legend]
    assert labels == [
        names["post_consumer"],
        names["virgin"],
        "made by a transform (mixed)",
        "this lot",
    ]
    swatches = {el.get("data-category"): rect(el).get("fill") for el in legend}
    assert swatches["post_consumer"] == FILLS["post_consumer"]


def test_a_partner_sees_its_view_and_no_hidden_lot_id(data: Data) -> None:
    """packco holds the enclosures: it sees their lineage as of the transforms that consumed
    it (the billet before its saw-cut loss) and no lot outside its view."""
    hidden = data.all_lots - data.packco_view
    assert hidden  # the nickel chain: not packco's
    svg, root, links = render(data.packco_graph)
    assert set(links.asked) <= data.packco_view
    for lot in hidden:
        assert lot not in svg and quote(lot, safe="") not in svg
    billet = next(el for el in nodes(root) if node_lot(el) == BILLET)
    assert "4,000 kg · held" in texts(billet)  # not the 3,990 kg after the later adjust
    full_billet = next(el for el in nodes(render(data.graph)[1]) if node_lot(el) == BILLET)
    assert "3,990 kg · held" in texts(full_billet)


def hidden_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """The enclosure's graph as if the scrap were outside the viewer's view: its node gone,
    the transform edge from it kept (and its shipment too, which must not show)."""
    out = copy.deepcopy(graph)
    out["nodes"] = [n for n in out["nodes"] if n["lot"] != SCRAP]
    return out


def test_an_input_outside_the_nodes_comes_from_an_anonymous_placeholder(data: Data) -> None:
    svg, root, links = render(hidden_graph(data.graph))
    assert SCRAP not in svg and quote(SCRAP, safe="") not in svg
    assert SCRAP not in links.asked
    placeholders = [el for el in nodes(root) if el.get("data-category") == "hidden"]
    assert len(placeholders) == 1
    (ph,) = placeholders
    assert tag(ph) == "g" and ph.get("href") is None  # no link: it would name the lot
    assert rect(ph).get("fill") == FILLS["hidden"]
    assert title(ph) == "not visible to you" and texts(ph) == ["not visible to you"]
    assert len(nodes(root)) == 4 and len(edges(root)) == 3
    assert any(title(el).startswith("not visible to you → ") for el in edges(root))
    desc = desc_of(root)
    assert desc.endswith(
        "3 lots, 2 transforms with 3 inputs, 1 shipment; 1 input lot not visible to you."
    )
    legend = {el.get("data-category") for el in root.iter() if el.get("class") == "ltl-legend-item"}
    assert legend == {"virgin", "derived", "hidden", None}  # None: the "this lot" marker
    # two edges from one hidden lot: one placeholder; a second hidden lot: a second one
    graph = hidden_graph(data.graph)
    graph["nodes"] = [n for n in graph["nodes"] if n["lot"] != PRIMARY]
    graph["edges"].append({**graph["edges"][0], "to": ENCLOSURE, "mass_kg": "1"})
    svg, root, _ = render(graph)
    assert PRIMARY not in svg and SCRAP not in svg
    assert len([el for el in nodes(root) if el.get("data-category") == "hidden"]) == 2


SVG_TAGS = {"svg", "title", "desc", "rect", "text", "g", "a", "path"}
HOSTILE = [
    "<script>alert(1)</script>",
    "]]><x a='1' b=\"2\">&amp;",
    "리튬 이온 배터리 외함",
    "אלומיניום معاد تدويره",
    "a\x00b\x1bc\u202eevil\ufffe",
]


def hostile_graph() -> dict[str, Any]:
    lots = [f"{i}{h}" for i, h in enumerate(HOSTILE)]
    nodes_ = [
        {
            "lot": lot,
            "material": HOSTILE[i],
            "mass_kg": "1200" if i else "<b>",
            "custodian": HOSTILE[i],
            "status": HOSTILE[i],
            "site": {"country": HOSTILE[i], "name": HOSTILE[i]},
            "source": HOSTILE[i] if i == 1 else None,
            "model": "controlled_blending",
        }
        for i, lot in enumerate(lots)
    ]
    edges_: list[dict[str, Any]] = [
        {
            "kind": "transform",
            "from": lots[i],
            "to": lots[0],
            "mass_kg": "100",
            "party": h,
            "process": h,
            "event": h,
        }
        for i, h in enumerate(HOSTILE)
        if i
    ]
    edges_.append(
        {"kind": "ship", "from": HOSTILE[0], "to": HOSTILE[2], "lot": lots[3], "mass_kg": "x"}
    )
    return {"lot": lots[0], "nodes": nodes_, "edges": edges_}


def test_hostile_text_is_escaped_and_the_output_stays_well_formed() -> None:
    graph = hostile_graph()
    for lang in ("en", "ko"):
        svg, root, links = render(graph, lang)
        assert "<script" not in svg and "]]>" not in svg
        assert not [el for el in root.iter() if tag(el) not in SVG_TAGS]
        assert sorted(links.asked) == sorted(n["lot"] for n in graph["nodes"])
        every = everything(root).translate(ISOLATES)
        for h in HOSTILE[:4]:  # shown as they are, as text
            assert h in every
        # controls, a bidi override and a non-character are replaced, never passed on
        assert "a\ufffdb\ufffdc\ufffdevil\ufffd" in every
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e]", svg)
        assert "unknown source" in every or "원천 미상" in every  # an unknown source category
        report = {
            "lot": HOSTILE[0],
            "as_of": HOSTILE[1],
            "model": HOSTILE[2],
            "composition": {HOSTILE[3]: "0.5"},
            "mass": {"post_consumer": "0.5", "virgin": "0.5", "recycled": "0.5"},
            "elements": {h: {"pre_consumer_other": "1", "recycled": "1"} for h in HOSTILE},
        }
        shares = shares_svg(report, lang=lang)
        root = fromstring(shares)
        assert "<script" not in shares and "]]>" not in shares
        every = everything(root).translate(ISOLATES)
        for h in HOSTILE[:4]:
            assert h in every


def boxes(root: Element) -> list[tuple[float, float, float, float]]:
    out = []
    for el in nodes(root):
        r = rect(el)
        out.append(
            (
                float(r.get("x", "")),
                float(r.get("y", "")),
                float(r.get("width", "")),
                float(r.get("height", "")),
            )
        )
    return out


def test_two_hundred_lots_do_not_overlap_and_the_picture_grows() -> None:
    """A synthetic lineage of 200 lots (a tree of transforms, fan-in 1 to 4, with hidden
    inputs): every box is inside the picture and no two overlap."""
    lots = [f"LOT-{i:04d}" for i in range(200)]
    graph_nodes = [
        {"lot": lot, "material": "black mass", "mass_kg": str(i), "status": "held",
         "source": (None, "post_consumer", "virgin", "pre_consumer_battery")[i % 4],
         "model": "create" if i % 4 else "controlled_blending"}
        for i, lot in enumerate(lots)
    ]  # fmt: skip
    graph_edges = [
        {"kind": "transform", "from": lot, "to": lots[(i - 1) // 4 if i % 7 else i // 9],
         "mass_kg": str(i * 10), "party": "p", "process": "mix"}
        for i, lot in enumerate(lots) if i
    ]  # fmt: skip
    graph_edges += [
        {"kind": "transform", "from": f"SECRET-{i}", "to": lots[i], "mass_kg": "5"}
        for i in range(0, 200, 25)
    ]
    graph = {"lot": lots[0], "nodes": graph_nodes, "edges": graph_edges}
    svg, root, _ = render(graph)
    assert "SECRET" not in svg
    found = boxes(root)
    assert len(found) == 208
    width, height = (float(root.get(k, "")) for k in ("width", "height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    for x, y, w, h in found:
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
    ordered = sorted(found)
    for i, (x, y, w, h) in enumerate(ordered):
        for x2, y2, _, h2 in ordered[i + 1 :]:
            if x2 >= x + w:
                break  # sorted by x: nothing further right overlaps this box
            assert y2 >= y + h or y >= y2 + h2, ((x, y), (x2, y2))
    small = fromstring(provenance_svg(one_lot_graph(), lang="en", link=Links()))
    assert width > float(small.get("width", "")) and height > float(small.get("height", ""))


def one_lot_graph() -> dict[str, Any]:
    node = {"lot": "X-1", "material": "scrap", "mass_kg": "10", "status": "held",
            "source": "pre_consumer_other", "model": "create"}  # fmt: skip
    return {"lot": "X-1", "nodes": [node], "edges": []}


def test_a_lot_without_inputs_is_one_box() -> None:
    svg, root, links = render(one_lot_graph())
    assert links.asked == ["X-1"]
    (box,) = nodes(root)
    assert box.get("aria-current") == "page"
    assert rect(box).get("fill") == FILLS["pre_consumer_other"]
    assert edges(root) == []
    desc = desc_of(root)
    assert desc == "Provenance of lot X-1: 1 lot, 0 transforms with 0 inputs, 0 shipments."
    assert provenance_svg(one_lot_graph(), lang="en", link=Links()) == svg  # deterministic


def test_korean_labels(data: Data) -> None:
    _, root, _ = render(hidden_graph(data.graph), "ko")
    every = everything(root).translate(ISOLATES)
    korean = {key: ko for key, _, ko in CATEGORY_LABELS}
    for text in (korean["virgin"], "가공 산출물 (혼합)", "열람 권한 없음", "조회 중인 로트"):
        assert text in every
    assert "not visible" not in every and "shipped" not in every and "held" not in every
    desc = desc_of(root)
    assert desc == (
        f"로트 {ENCLOSURE}의 원산지 이력: 로트 3개, 가공 2건 (투입 3건), 운송 1건; "
        "열람 권한 없는 로트 1개."
    )
    assert "19,500 kg · 보유" in every
    shares = fromstring(shares_svg(data.report, lang="ko"))
    every = everything(shares).translate(ISOLATES)
    assert f"{korean['post_consumer']} 79.9 %" in every and "로트 전체 (질량 기준)" in every
    assert "post-consumer" not in every


def test_unknown_language_is_refused(data: Data) -> None:
    with pytest.raises(ValueError, match="lang"):
        provenance_svg(data.graph, lang="fr", link=Links())
    with pytest.raises(ValueError, match="lang"):
        shares_svg(data.report, lang="en+ko")


# --- the shares ------------------------------------------------------------------------------


def bars(root: Element) -> dict[str, Element]:
    return {el.get("data-row", ""): el for el in root.iter() if el.get("class") == "ltl-bar"}


def segments(bar: Element) -> dict[str, float]:
    return {
        r.get("data-category", ""): float(r.get("width", ""))
        for r in bar.iter(f"{NS}rect")
        if r.get("data-category")
    }


def test_enclosure_shares_one_bar_per_element_and_one_for_the_mass(data: Data) -> None:
    assert data.report["composition"] == {"Al": "0.97"}
    svg = shares_svg(data.report, lang="en")
    root = fromstring(svg)
    found = bars(root)
    assert list(found) == ["mass", "Al"]
    # figures as text (readable without colour), half-even to 1 decimal
    assert texts(found["mass"]) == [
        "Whole lot, by mass",
        "post-consumer 79.9 % · virgin 20.1 % · recycled, total 79.9 %",
    ]
    assert texts(found["Al"]) == [
        "Al",
        "post-consumer 79.3 % · virgin 20.7 % · recycled, total 79.3 %",
    ]
    for row, key in (("mass", "mass"), ("Al", "Al")):
        shares = data.report["mass"] if key == "mass" else data.report["elements"][key]
        widths = segments(found[row])
        assert set(widths) == {"post_consumer", "virgin"}  # the zero shares draw nothing
        total = sum(widths.values())
        assert total == pytest.approx(480, abs=0.02)
        for cat, w in widths.items():
            assert w == pytest.approx(float(Decimal(shares[cat])) * 480, abs=0.01)
        for r in found[row].iter(f"{NS}rect"):
            if r.get("data-category"):
                assert r.get("fill") == FILLS[r.get("data-category", "")]  # the graph's colours
                assert title(r).startswith(f"{texts(found[row])[0]}: ")
    legend = [el.get("data-category") for el in root.iter() if el.get("class") == "ltl-legend-item"]
    assert legend == ["post_consumer", "virgin"]
    ident = root.get("id")
    assert (
        root.get("role") == "img" and root.get("aria-labelledby") == f"{ident}-title {ident}-desc"
    )
    desc = desc_of(root)
    assert desc == (
        f"Recycled content of lot {ENCLOSURE} as of 2026-01-01: whole lot 79.9 % recycled, "
        "Al 79.3 % recycled."
    )


def test_percentages_round_half_even() -> None:
    report = {
        "lot": "L",
        "as_of": "2031-08-18",
        "mass": {
            "post_consumer": "0.124500",  # 12.45 -> 12.4 (half-even; half-up says 12.5)
            "pre_consumer_battery": "0.125500",  # 12.55 -> 12.6
            "pre_consumer_other": "0.123450",  # 12.345 -> 12.3
            "virgin": "0.626550",  # 62.655 -> 62.7
            "recycled": "0.373450",
        },
        "elements": {},
        "composition": None,
    }
    root = fromstring(shares_svg(report, lang="en"))
    lines = texts(bars(root)["mass"])[1:]  # the figures, wrapped between items
    assert " · ".join(lines).split(" · ") == [
        "post-consumer 12.4 %",
        "pre-consumer (battery) 12.6 %",
        "pre-consumer (other) 12.3 %",
        "virgin 62.7 %",
        "recycled, total 37.3 %",
    ]
    assert "Composition unknown: no shares per element." in texts(root)


def test_unknown_element_shares_and_mass_balance(data: Data) -> None:
    report = copy.deepcopy(data.report)
    report["elements"]["Si"] = None
    root = fromstring(shares_svg(report, lang="en"))
    si = bars(root)["Si"]
    assert texts(si) == ["Si", "share unknown"]
    assert segments(si) == {"unknown": 480}
    legend = [el.get("data-category") for el in root.iter() if el.get("class") == "ltl-legend-item"]
    assert legend == ["post_consumer", "virgin", "unknown"]
    assert "Si share unknown" in desc_of(root)
    # the nickel sulfate's shares are allocated credits (spec §7.3): said so
    niso4 = fromstring(shares_svg(data.niso4_report, lang="en"))
    assert (
        texts(bars(niso4)["Ni"])[1]
        == "post-consumer 30.0 % · virgin 70.0 % · recycled, total 30.0 %"
    )
    assert any(t.startswith("Mass balance:") for t in texts(niso4))
