"""Server-side SVG pictures for the web console: a lot's provenance graph and its recycled shares.

Pure functions of the JSON the service returns (no I/O, no clock):

- :func:`provenance_svg` draws the upstream graph of ``GET /v1/lots/{lot}/provenance`` (spec
  §9.8.7): lots as boxes in columns by depth (sources on the left, the viewed lot on the right),
  filled by source category; transform inputs as paths as wide as their mass; shipments noted
  on their lot;
- :func:`shares_svg` draws the shares of the recycled-content report (spec §7.6): one stacked
  bar for the lot's mass and one per element, in the same colours, with the figures as text.

Both are self-contained SVG 2 documents to inline in a page, labelled by a ``<title>`` and a
one-sentence ``<desc>``: the chart ``role="img"``, the graph (whose lots are links)
``role="group"``; labels in English or Korean, text of at least 12 px, and every
text/background pair at a contrast ratio of at least 4.5:1 (the fills are light, the text is
dark). They are styled with presentation attributes only (no ``<style>``, no ``style=``), so a
Content-Security-Policy without ``'unsafe-inline'`` styles does not break them.

Everything read from the data is partner input in any script: each text is cleaned (control,
bidirectional-control and XML-invalid characters become U+FFFD), isolated with FSI/PDI where a
sentence embeds it, and escaped with ``html.escape(..., quote=True)``. The graph draws exactly
what it is given: a transform edge whose lot is not among the nodes (a lot the viewer may not
see) is drawn from a grey placeholder that never names it, in text or attribute.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from ledger.attest.render import CATEGORY_LABELS
from ledger.core.values import CATEGORIES, FORBIDDEN_TEXT_RE, LOT_STATUSES, SOURCES

__all__ = [
    "EDGE_COLOUR",
    "FILLS",
    "FONT_FAMILY",
    "LANGS",
    "TEXT_COLOUR",
    "provenance_svg",
    "shares_svg",
]

#: the label languages
LANGS = ("en", "ko")
FONT_FAMILY = (
    'system-ui, "Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", '
    "sans-serif"
)
#: every text's colour; every fill below is light enough for it (contrast ≥ 7:1)
TEXT_COLOUR = "#1f2328"
#: transform edges (≥ 3:1 against white, as WCAG 1.4.11 asks of graphics)
EDGE_COLOUR = "#737d8c"
#: fill per category: the four sources of ``lot.create`` (spec §7.1), ``derived`` (made by a
#: transform: ``source`` is null), ``unknown`` (a source this version does not know) and
#: ``hidden`` (the placeholder of a lot the viewer may not see)
FILLS: dict[str, str] = {
    "post_consumer": "#9fd8b0",
    "pre_consumer_battery": "#a9cff2",
    "pre_consumer_other": "#d7c5f0",
    "virgin": "#f7c896",
    "derived": "#d3dae3",
    "unknown": "#f4e69c",
    "hidden": "#f6f7f9",
}
_OUTLINE = "#4b5563"
_CURRENT_OUTLINE = "#0b0f14"
_BACKGROUND = "#ffffff"

_LABELS: dict[str, tuple[str, str]] = {
    "derived": ("made by a transform (mixed)", "가공 산출물 (혼합)"),
    "unknown": ("unknown source", "원천 미상"),
    "hidden": ("not visible to you", "열람 권한 없음"),
    "this_lot": ("this lot", "조회 중인 로트"),
    "kg": ("kg", "kg"),
    "held": ("held", "보유"),
    "in_transit": ("in transit", "운송 중"),
    "consumed": ("consumed", "소진"),
    "custodian": ("custodian", "보관자"),
    "site": ("site", "사업장"),
    "by_mass": ("Whole lot, by mass", "로트 전체 (질량 기준)"),
    "share_unknown": ("share unknown", "비율 미상"),
    "graph_title": ("Provenance of lot {lot}", "로트 {lot}의 원산지 이력"),
    "graph_desc": (
        "Provenance of lot {lot}: {lots}, {transforms} with {inputs}, {ships}{hidden}.",
        "로트 {lot}의 원산지 이력: {lots}, {transforms} ({inputs}), {ships}{hidden}.",
    ),
    "graph_hidden": ("; {count} not visible to you", "; 열람 권한 없는 로트 {count}개"),
    "edge": (
        "{src} → {dst}: {mass} kg into {process} by {party}",
        "{src} → {dst}: {process} 투입 {mass} kg, {party} 수행",
    ),
    "shipped": ("shipped {src} → {dst}, {mass} kg", "운송 {src} → {dst}, {mass} kg"),
    "shares_title": ("Recycled content of lot {lot}", "로트 {lot}의 재활용 함량"),
    "shares_desc": (
        "Recycled content of lot {lot} as of {as_of}: {parts}.",
        "로트 {lot}의 재활용 함량 ({as_of} 기준): {parts}.",
    ),
    "whole_recycled": ("whole lot {pct} recycled", "로트 전체 재활용 {pct}"),
    "element_recycled": ("{el} {pct} recycled", "{el} 재활용 {pct}"),
    "element_unknown": ("{el} share unknown", "{el} 비율 미상"),
    "no_shares": ("no shares", "비율 없음"),
    "mass_balance": (
        "Mass balance: the shares are allocated credits, not the lot's physical content.",
        "물질수지 방식: 비율은 로트의 물리적 함량이 아니라 배분된 크레딧입니다.",
    ),
    "no_composition": (
        "Composition unknown: no shares per element.",
        "조성 미상: 원소별 비율이 없습니다.",
    ),
}
#: counted nouns: (English singular, English plural, Korean with {n})
_COUNTS: dict[str, tuple[str, str, str]] = {
    "lots": ("{n} lot", "{n} lots", "로트 {n}개"),
    "transforms": ("{n} transform", "{n} transforms", "가공 {n}건"),
    "inputs": ("{n} input", "{n} inputs", "투입 {n}건"),
    "ships": ("{n} shipment", "{n} shipments", "운송 {n}건"),
    "hidden": ("{n} input lot", "{n} input lots", "{n}"),
}
_CATEGORY_NAMES: dict[str, tuple[str, str]] = {k: (en, ko) for k, en, ko in CATEGORY_LABELS}
#: legend order
_LEGEND = (*CATEGORIES, "virgin", "derived", "unknown", "hidden")

_MARGIN = 16
_SWATCH = 14
_LEGEND_LINE = 22
# the graph's boxes
_BOX_W = 268
_BOX_H = 88
_GAP_X = 84
_GAP_Y = 20
_PAD = 10
_MIN_W = 360
_ID_SIZE = 13
_SIZE = 12
_LINE = 17
_THIN = Decimal("1.5")
_THICK = Decimal("12")
# the shares' bars
_BAR_W = 480
_BAR_H = 24

_ELLIPSIS = "…"
_BAD_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


# --- text ------------------------------------------------------------------------------------


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")


def _clean(value: Any) -> str:
    """A datum as text without control, bidi-control or XML-invalid characters (spec §1.5
    already forbids them in events; the data handed here may not come from events)."""
    text = "" if value is None else str(value)
    return _BAD_XML.sub("\ufffd", FORBIDDEN_TEXT_RE.sub("\ufffd", text))


def _raw(value: Any) -> str:
    """A lot id as given (``link`` gets it exactly; only what is shown is cleaned)."""
    return "" if value is None else str(value)


def _iso(value: Any) -> str:
    """A datum embedded in a sentence: cleaned and bidi-isolated (FSI … PDI), so an
    right-to-left name cannot reorder the words around it."""
    return f"\u2068{_clean(value)}\u2069"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _label(key: str, lang: str) -> str:
    en, ko = _LABELS[key]
    return ko if lang == "ko" else en


def _say(key: str, lang: str, **values: str) -> str:
    return _label(key, lang).format(**values)


def _count(key: str, n: int, lang: str) -> str:
    one, many, ko = _COUNTS[key]
    return (ko if lang == "ko" else one if n == 1 else many).format(n=n)


def _category_name(key: str, lang: str) -> str:
    en, ko = _CATEGORY_NAMES.get(key) or _LABELS[key]
    return ko if lang == "ko" else en


def _char_em(ch: str) -> float:
    if unicodedata.combining(ch) or ch in "\u2068\u2069":
        return 0.0
    return 1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62


def _width(text: str, size: float) -> float:
    """An upper estimate of the width of ``text`` at ``size`` px (wide glyphs 1 em, others
    0.62 em): the layout never relies on the font's metrics."""
    return sum(_char_em(ch) for ch in text) * size


def _fit(text: str, size: float, room: float) -> str:
    """``text``, cut with an ellipsis to fit ``room`` px."""
    if _width(text, size) <= room:
        return text
    out, used = [], _width(_ELLIPSIS, size)
    for ch in text:
        used += _char_em(ch) * size
        if used > room:
            break
        out.append(ch)
    return "".join(out) + _ELLIPSIS


def _wrap(items: list[str], sep: str, size: float, room: float) -> list[str]:
    """Items joined by ``sep`` into lines that fit ``room`` px (an item is never split)."""
    lines: list[str] = []
    for item in items:
        if lines and _width(lines[-1] + sep + item, size) <= room:
            lines[-1] += sep + item
        else:
            lines.append(item)
    return lines


def _px(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, *, size: int = _SIZE, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{_px(x)}" y="{_px(y)}" font-size="{size}"{weight} fill="{TEXT_COLOUR}">'
        f"{_e(content)}</text>"
    )


def _svg_open(ident: str, width: float, height: float, kind: str, title: str, desc: str) -> str:
    # a picture with links in it (the graph's lot nodes) is a labelled group: an "img" has
    # presentational children, so its links would be hidden from assistive technology and
    # focusable at once (axe-core: nested-interactive, WCAG 4.1.2)
    role = "group" if kind == "provenance" else "img"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ltl-{kind}" id="{ident}" role="{role}" '
        f'aria-labelledby="{ident}-title {ident}-desc" '
        f'viewBox="0 0 {_px(width)} {_px(height)}" width="{_px(width)}" height="{_px(height)}" '
        f'font-family="{_e(FONT_FAMILY)}">'
        f'<title id="{ident}-title">{_e(title)}</title>'
        f'<desc id="{ident}-desc">{_e(desc)}</desc>'
        f'<rect width="100%" height="100%" fill="{_BACKGROUND}"/>'
    )


def _ident(kind: str, lot: str) -> str:
    """A stable element id for the picture of ``lot`` (several may share a page)."""
    return f"ltl-{kind}-{hashlib.sha256(lot.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


# --- numbers ---------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    """A mass or share as an exact Decimal; None for anything else (a float is not exact)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        found = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() else None


def _kg(value: Any) -> str:
    """A mass as people read it: ``"19850"`` -> ``19,850``; what is not a decimal as it is."""
    found = _decimal(value)
    return _clean(value) if found is None else format(found, ",f")


def _percent(value: Any) -> str | None:
    """A share (``"0.798793"``) as a percentage rounded half-even to 1 decimal (``79.9 %``)."""
    found = _decimal(value)
    if found is None:
        return None
    try:
        return f"{(found * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)} %"
    except InvalidOperation:  # too large to quantize: not a share
        return None


# --- legend ----------------------------------------------------------------------------------


def _legend(keys: Iterable[str], lang: str, width: float, current: bool) -> tuple[list[str], float]:
    """Swatch-and-label entries from the top margin, flowed into lines of ``width``: the
    elements and the bottom of the last line."""
    entries = [(k, _category_name(k, lang)) for k in keys]
    if current:
        entries.append(("this_lot", _label("this_lot", lang)))
    out = ['<g class="ltl-legend">']
    x, y = float(_MARGIN), float(_MARGIN)
    for key, name in entries:
        w = _SWATCH + 6 + _width(name, _SIZE) + 18
        if x > _MARGIN and x + w > width - _MARGIN:
            x, y = float(_MARGIN), y + _LEGEND_LINE
        if key == "this_lot":
            swatch = (
                f'<rect x="{_px(x + 1.5)}" y="{_px(y + 1.5)}" width="{_SWATCH - 3}" '
                f'height="{_SWATCH - 3}" rx="3" fill="{_BACKGROUND}" '
                f'stroke="{_CURRENT_OUTLINE}" stroke-width="3"/>'
            )
            attr = 'data-marker="this-lot"'
        else:
            swatch = (
                f'<rect x="{_px(x)}" y="{_px(y)}" width="{_SWATCH}" height="{_SWATCH}" rx="3" '
                f'fill="{FILLS[key]}" stroke="{_OUTLINE}"/>'
            )
            attr = f'data-category="{key}"'
        out.append(
            f'<g class="ltl-legend-item" {attr}>{swatch}'
            f"{_text(x + _SWATCH + 6, y + _SWATCH - 2, name)}</g>"
        )
        x += w
    out.append("</g>")
    return out, (y + _SWATCH if entries else 0.0)


# --- the provenance graph --------------------------------------------------------------------

#: a node: (0, lot id as given) for a lot of the graph, (1, ordinal) for a placeholder of a lot
#: the viewer may not see (the ordinal counts first appearances in the edges, so not even the
#: order of the hidden ids shows)
_Key = tuple[int, str]


@dataclass
class _Node:
    key: _Key
    data: Mapping[str, Any] | None  # None: a placeholder
    category: str
    ships: list[Mapping[str, Any]] = field(default_factory=list)
    depth: int = 0
    x: float = 0.0
    y: float = 0.0


@dataclass
class _Edge:
    src: _Key
    dst: _Key
    data: Mapping[str, Any]
    mass: Decimal | None
    width: Decimal = _THIN
    src_y: float = 0.0
    dst_y: float = 0.0


def _node_category(node: Mapping[str, Any]) -> str:
    source = node.get("source")
    if source in SOURCES:
        return str(source)
    if source is None and node.get("model") != "create":
        return "derived"
    return "unknown"


class _Graph:
    """The nodes and edges to draw, resolved against what the graph holds."""

    def __init__(self, graph: Mapping[str, Any]) -> None:
        self.lot = _raw(graph.get("lot"))
        self.nodes: dict[_Key, _Node] = {}
        for item in graph.get("nodes") or ():
            key = (0, _raw(item.get("lot")))
            self.nodes.setdefault(key, _Node(key, item, _node_category(item)))
        self._hidden: dict[str, _Key] = {}
        self.edges: list[_Edge] = []
        self.ships = 0
        transforms: set[Any] = set()
        for item in graph.get("edges") or ():
            kind = item.get("kind")
            if kind == "transform":
                src, dst = self._resolve(item.get("from")), self._resolve(item.get("to"))
                transforms.add(_raw(item.get("event") or (item.get("seq"), dst)))
                if src != dst:  # a lot is never its own input; nothing to draw
                    self.edges.append(_Edge(src, dst, item, _decimal(item.get("mass_kg"))))
            elif kind == "ship":
                # a shipment of a lot that is not a node would name a lot the viewer may not see
                found = self.nodes.get((0, _raw(item.get("lot"))))
                if found is not None:
                    found.ships.append(item)
                    self.ships += 1
        self.transforms = len(transforms)
        self.hidden = len(self._hidden)
        heaviest = max((e.mass for e in self.edges if e.mass is not None), default=Decimal(0))
        for e in self.edges:
            if heaviest > 0 and e.mass is not None and e.mass > 0:
                ratio = min(e.mass / heaviest, Decimal(1))
                e.width = (_THIN + (_THICK - _THIN) * ratio).quantize(Decimal("0.01"))
        self.parents: dict[_Key, list[_Key]] = {k: [] for k in self.nodes}
        self.children: dict[_Key, list[_Key]] = {k: [] for k in self.nodes}
        for e in self.edges:
            self.parents[e.dst].append(e.src)
            self.children[e.src].append(e.dst)
        self.columns = self._depths()
        last = max(self.columns, default=0)
        self.width = max(2 * _MARGIN + (last + 1) * _BOX_W + last * _GAP_X, _MIN_W)

    def _resolve(self, lot: Any) -> _Key:
        key = (0, _raw(lot))
        if key in self.nodes:
            return key
        if key[1] not in self._hidden:
            placeholder = (1, f"{len(self._hidden):08d}")
            self._hidden[key[1]] = placeholder
            self.nodes[placeholder] = _Node(placeholder, None, "hidden")
        return self._hidden[key[1]]

    def _depths(self) -> dict[int, list[_Node]]:
        """Each node's column: the longest path from it to a sink (the viewed lot is one),
        found from the sinks back (Kahn); nodes on a cycle (no real ledger has one) get one
        more column."""
        outs = dict.fromkeys(self.nodes, 0)
        for e in self.edges:
            outs[e.src] += 1
        todo = deque(sorted(k for k, n in outs.items() if n == 0))
        done: set[_Key] = set()
        while todo:
            v = todo.popleft()
            done.add(v)
            for u in self.parents[v]:
                self.nodes[u].depth = max(self.nodes[u].depth, self.nodes[v].depth + 1)
                outs[u] -= 1
                if outs[u] == 0:
                    todo.append(u)
        deepest = max((n.depth for n in self.nodes.values()), default=0)
        columns: dict[int, list[_Node]] = {}
        for k, n in self.nodes.items():
            if k not in done:
                n.depth = deepest + 1
            columns.setdefault(n.depth, []).append(n)
        return columns

    def _order(self, n: _Node, placed: Mapping[_Key, float]) -> tuple[int, float, _Key]:
        """A node's place in its column: the viewed lot first, then by the mean height of
        the boxes it feeds (fewer crossings), then by key."""
        ys = [placed[c] for c in self.children[n.key] if c in placed]
        return (0 if n.key == (0, self.lot) else 1, sum(ys) / len(ys) if ys else 0.0, n.key)

    def place(self, top: float) -> float:
        """Set every box's position, the first row at ``top``: the bottom of the last row."""
        rows = max((len(c) for c in self.columns.values()), default=1)
        last = max(self.columns, default=0)
        pitch = _BOX_H + _GAP_Y
        placed: dict[_Key, float] = {}
        for depth in sorted(self.columns):
            column = sorted(self.columns[depth], key=lambda n: self._order(n, placed))
            offset = (rows - len(column)) * pitch / 2
            for i, n in enumerate(column):
                n.x = _MARGIN + (last - depth) * (_BOX_W + _GAP_X)
                n.y = top + offset + i * pitch
                placed[n.key] = n.y
        self._ports()
        return top + rows * pitch - _GAP_Y

    def _ports(self) -> None:
        """Spread the edges leaving and entering each box over its height, in the order of
        the boxes at their other end, so they do not all meet in one point."""
        leaving: dict[_Key, list[_Edge]] = {}
        entering: dict[_Key, list[_Edge]] = {}
        for e in self.edges:
            leaving.setdefault(e.src, []).append(e)
            entering.setdefault(e.dst, []).append(e)
        for key, group in leaving.items():
            group.sort(key=lambda e: (self.nodes[e.dst].y, e.dst))
            for i, e in enumerate(group):
                e.src_y = self.nodes[key].y + _BOX_H * (i + 1) / (len(group) + 1)
        for key, group in entering.items():
            group.sort(key=lambda e: (self.nodes[e.src].y, e.src))
            for i, e in enumerate(group):
                e.dst_y = self.nodes[key].y + _BOX_H * (i + 1) / (len(group) + 1)


def _node_name(key: _Key, lang: str) -> str:
    """How a sentence names a node: the lot id, or "not visible to you"."""
    return _label("hidden", lang) if key[0] == 1 else _iso(key[1])


def _ship_note(ship: Mapping[str, Any], lang: str) -> str:
    return _say(
        "shipped",
        lang,
        src=_iso(ship.get("from")),
        dst=_iso(ship.get("to")),
        mass=_kg(ship.get("mass_kg")),
    )


def _draw_edge(graph: _Graph, e: _Edge, lang: str) -> str:
    src, dst = graph.nodes[e.src], graph.nodes[e.dst]
    x1, x2 = src.x + _BOX_W, dst.x
    head = 8.0
    tip = x2 - 1
    end = tip - head
    mid = (x1 + end) / 2
    half = float(e.width) / 2 + 3
    title = _say(
        "edge",
        lang,
        src=_node_name(e.src, lang),
        dst=_node_name(e.dst, lang),
        mass=_kg(e.data.get("mass_kg")),
        process=_iso(e.data.get("process")),
        party=_iso(e.data.get("party")),
    )
    return (
        f'<g class="ltl-edge" data-mass-kg="{_e(_kg(e.data.get("mass_kg")))}">'
        f"<title>{_e(title)}</title>"
        f'<path d="M{_px(x1)} {_px(e.src_y)} C{_px(mid)} {_px(e.src_y)} {_px(mid)} '
        f'{_px(e.dst_y)} {_px(end)} {_px(e.dst_y)}" fill="none" stroke="{EDGE_COLOUR}" '
        f'stroke-width="{e.width}"/>'
        f'<path d="M{_px(end)} {_px(e.dst_y - half)} L{_px(tip)} {_px(e.dst_y)} '
        f'L{_px(end)} {_px(e.dst_y + half)} Z" fill="{EDGE_COLOUR}"/></g>'
    )


def _node_lines(n: _Node, lang: str) -> tuple[list[str], str]:
    """The box's lines (lot id, material, mass and status, first shipment) and its title."""
    assert n.data is not None
    d = n.data
    status = d.get("status")
    status_name = _label(status, lang) if status in LOT_STATUSES else _iso(status) if status else ""
    mass = f"{_kg(d.get('mass_kg'))} {_label('kg', lang)}"
    mass_line = f"{mass} · {status_name}" if status_name else mass
    ships = [_ship_note(s, lang) for s in n.ships]
    lines = [_clean(n.key[1]), _clean(d.get("material")), mass_line]
    if ships:
        lines.append(ships[0] + (f" (+{len(ships) - 1})" if len(ships) > 1 else ""))
    found = d.get("site")
    site: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    where = ", ".join(_iso(v) for v in (site.get("name"), site.get("country")) if v)
    title = [
        _clean(n.key[1]),
        _clean(d.get("material")),
        mass_line,
        _category_name(n.category, lang),
        f"{_label('custodian', lang)}: {_iso(d.get('custodian'))}",
        *([f"{_label('site', lang)}: {where}"] if where else []),
        *ships,
    ]
    return lines, "\n".join(title)


def _draw_node(graph: _Graph, n: _Node, lang: str, link: Callable[[str], str]) -> str:
    current = n.key == (0, graph.lot)
    stroke = (
        f'stroke="{_CURRENT_OUTLINE}" stroke-width="3.5"'
        if current
        else f'stroke="{_OUTLINE}" stroke-width="1"'
    )
    if n.data is None:
        name = _label("hidden", lang)
        return (
            f'<g class="ltl-node" data-category="hidden"><title>{_e(name)}</title>'
            f'<rect x="{_px(n.x)}" y="{_px(n.y)}" width="{_BOX_W}" height="{_BOX_H}" rx="8" '
            f'fill="{FILLS["hidden"]}" stroke="{_OUTLINE}" stroke-width="1" '
            f'stroke-dasharray="6 4"/>'
            f"{_text(n.x + _PAD, n.y + _BOX_H / 2 + 4, _fit(name, _SIZE, _BOX_W - 2 * _PAD))}"
            "</g>"
        )
    lines, title = _node_lines(n, lang)
    room = _BOX_W - 2 * _PAD
    texts = [_text(n.x + _PAD, n.y + 21, _fit(lines[0], _ID_SIZE, room), size=_ID_SIZE, bold=True)]
    for i, line in enumerate(lines[1:]):
        texts.append(_text(n.x + _PAD, n.y + 21 + (i + 1) * _LINE, _fit(line, _SIZE, room)))
    aria = ' aria-current="page"' if current else ""
    href = _e(_clean(link(n.key[1])))
    return (
        f'<a href="{href}" class="ltl-node" data-category="{n.category}"{aria}>'
        f"<title>{_e(title)}</title>"
        f'<rect x="{_px(n.x)}" y="{_px(n.y)}" width="{_BOX_W}" height="{_BOX_H}" rx="8" '
        f'fill="{FILLS[n.category]}" {stroke}/>{"".join(texts)}</a>'
    )


def provenance_svg(graph: Mapping[str, Any], *, lang: str, link: Callable[[str], str]) -> str:
    """The upstream provenance of a lot as an SVG document.

    Args:
        graph: the provenance graph (``ProvenanceOut.model_dump()``: ``lot``, ``nodes``,
            ``edges``), already cut to what the viewer may see: it is drawn as given.
        lang: ``"en"`` or ``"ko"``.
        link: the URL of a lot's page, given its id; called for the lots drawn only, and its
            result is escaped for XML (not URL-encoded: that is ``link``'s job).

    Raises:
        ValueError: an unknown ``lang``.
    """
    _check_lang(lang)
    g = _Graph(graph)
    categories = {n.category for n in g.nodes.values()}
    keys = [k for k in _LEGEND if k in categories]
    current = (0, g.lot) in g.nodes
    legend, legend_bottom = _legend(keys, lang, g.width, current)
    width, height = g.width, g.place(legend_bottom + _MARGIN) + _MARGIN
    ident = _ident("provenance", g.lot)
    inputs = len(g.edges)
    desc = _say(
        "graph_desc",
        lang,
        lot=_iso(g.lot),
        lots=_count("lots", len(g.nodes) - g.hidden, lang),
        transforms=_count("transforms", g.transforms, lang),
        inputs=_count("inputs", inputs, lang),
        ships=_count("ships", g.ships, lang),
        hidden=_say("graph_hidden", lang, count=_count("hidden", g.hidden, lang))
        if g.hidden
        else "",
    )
    out = [
        _svg_open(
            ident, width, height, "provenance", _say("graph_title", lang, lot=_iso(g.lot)), desc
        ),
        *legend,
        '<g class="ltl-edges">',
    ]
    # the heaviest first, so a light edge is never hidden under a heavy one
    for e in sorted(g.edges, key=lambda e: -e.width):
        out.append(_draw_edge(g, e, lang))
    out.append('</g><g class="ltl-nodes">')
    for key in sorted(g.nodes):
        out.append(_draw_node(g, g.nodes[key], lang, link))
    out.append("</g></svg>")
    return "".join(out)


# --- the shares ------------------------------------------------------------------------------

_BAR_KEYS = (*CATEGORIES, "virgin")


@dataclass
class _Bar:
    ident: str  # "mass" or the element
    label: str
    shares: Mapping[str, Any] | None  # None: unknown
    whole: bool = False  # the lot's mass, not an element
    figures: list[str] = field(default_factory=list)


def _bar_parts(shares: Mapping[str, Any]) -> list[tuple[str, Decimal]]:
    """The categories with a positive share, in legend order."""
    found = [(k, _decimal(shares.get(k))) for k in _BAR_KEYS]
    return [(k, v) for k, v in found if v is not None and v > 0]


def _bar_figures(bar: _Bar, lang: str) -> list[str]:
    if bar.shares is None:
        return [_label("share_unknown", lang)]
    items = [f"{_category_name(k, lang)} {_percent(v)}" for k, v in _bar_parts(bar.shares)]
    total = _percent(bar.shares.get("recycled"))
    if total is not None:
        items.append(f"{_category_name('recycled', lang)} {total}")
    return items or [_label("no_shares", lang)]


def _draw_bar(bar: _Bar, lang: str, y: float) -> tuple[list[str], float]:
    x = float(_MARGIN)
    top = y + 22
    out = [
        f'<g class="ltl-bar" data-row="{_e(bar.ident)}">',
        _text(x, y + 14, _fit(bar.label, _ID_SIZE, _BAR_W), size=_ID_SIZE, bold=True),
    ]
    if bar.shares is None:
        out.append(
            f'<rect x="{_px(x)}" y="{_px(top)}" width="{_BAR_W}" height="{_BAR_H}" '
            f'fill="{FILLS["unknown"]}" data-category="unknown">'
            f"<title>{_e(bar.label)}: {_e(_label('share_unknown', lang))}</title></rect>"
        )
    else:
        parts = _bar_parts(bar.shares)
        scale = max(sum((v for _, v in parts), Decimal(0)), Decimal(1))
        at = x
        for key, value in parts:
            w = float(value / scale) * _BAR_W
            title = f"{bar.label}: {_category_name(key, lang)} {_percent(value)}"
            out.append(
                f'<rect x="{_px(at)}" y="{_px(top)}" width="{_px(w)}" height="{_BAR_H}" '
                f'fill="{FILLS[key]}" data-category="{key}" data-share="{_e(str(value))}">'
                f"<title>{_e(title)}</title></rect>"
            )
            at += w
    out.append(
        f'<rect x="{_px(x)}" y="{_px(top)}" width="{_BAR_W}" height="{_BAR_H}" fill="none" '
        f'stroke="{_OUTLINE}"/>'
    )
    lines = _wrap(bar.figures, " · ", _SIZE, _BAR_W)
    text_y = top + _BAR_H + 17
    for i, line in enumerate(lines):
        out.append(_text(x, text_y + i * _LINE, line))
    out.append("</g>")
    return out, text_y + (len(lines) - 1) * _LINE + 18


def shares_svg(report: Mapping[str, Any], *, lang: str) -> str:
    """The recycled-content shares of a lot (its spec §7.6 report) as an SVG document: one
    stacked bar for the whole lot's mass and one per element of its composition, segments per
    category, each bar with its percentages as text (half-even to 1 decimal).

    Raises:
        ValueError: an unknown ``lang``.
    """
    _check_lang(lang)
    lot = _clean(report.get("lot"))
    bars: list[_Bar] = []
    mass = report.get("mass")
    if isinstance(mass, Mapping):
        bars.append(_Bar("mass", _label("by_mass", lang), mass, whole=True))
    elements = report.get("elements")
    for el, shares in sorted((elements or {}).items() if isinstance(elements, Mapping) else ()):
        bars.append(_Bar(_clean(el), _clean(el), shares if isinstance(shares, Mapping) else None))
    categories: set[str] = set()
    parts: list[str] = []
    for bar in bars:
        bar.figures = _bar_figures(bar, lang)
        if bar.shares is None:
            categories.add("unknown")
            parts.append(_say("element_unknown", lang, el=_iso(bar.ident)))
            continue
        categories.update(k for k, _ in _bar_parts(bar.shares))
        pct = _percent(bar.shares.get("recycled")) or _label("share_unknown", lang)
        if bar.whole:
            parts.append(_say("whole_recycled", lang, pct=pct))
        else:
            parts.append(_say("element_recycled", lang, el=_iso(bar.ident), pct=pct))
    keys = [k for k in _LEGEND if k in categories]
    width = 2 * _MARGIN + _BAR_W
    legend, y = _legend(keys, lang, width, False)
    y += _MARGIN
    body: list[str] = []
    for bar in bars:
        drawn, y = _draw_bar(bar, lang, y)
        body.extend(drawn)
    notes = []
    if report.get("model") == "mass_balance":
        notes.append(_label("mass_balance", lang))
    if "composition" in report and report.get("composition") is None:
        notes.append(_label("no_composition", lang))
    for note in notes:
        for line in _wrap(note.split(" "), " ", _SIZE, _BAR_W):
            y += _LINE
            body.append(_text(_MARGIN, y, line))
    height = y + _MARGIN
    desc = _say(
        "shares_desc",
        lang,
        lot=_iso(lot),
        as_of=_iso(report.get("as_of")),
        parts=", ".join(parts) if parts else _label("no_shares", lang),
    )
    return "".join(
        [
            _svg_open(
                _ident("shares", lot),
                width,
                height,
                "shares",
                _say("shares_title", lang, lot=_iso(lot)),
                desc,
            ),
            *legend,
            *body,
            "</svg>",
        ]
    )
