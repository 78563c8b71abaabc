"""Issue 23 (item 4), pictures that stay right after every change, in a real Chromium (Voila, light theme).

On the quickstart's NullSpaceExplorer a person changes the span (1.5, then 1e6) and switches log colour off
and on: after each change the 2-D view's colour bar shows only its current labels, all on the bar (bqplot's
colour bar read its tick values only when its range changed: labels sent after the range floated above or
below it, or piled up), and the plane's tick labels never touch (d3's default drew 16 labels at span 1.5 and
"-1,000,000 ..." at 1e6). On the pruning explorer each similarity value reads on its cell (white "1.00" on
yellow was unreadable) and sits inside it. No element inside an explorer scrolls sideways at a workshop's
screen widths (a 440-px legend with 2-px margins in a 440-px box put a scroll bar under the trade-off plot).
"""
from __future__ import annotations

import re

import pytest

from . import _browser as B
from .notebook_specs import spec_of

pytest_plugins = [f"{__package__}.browser_fixtures"]  # voila_server, browser

QUICKSTART = "notebooks/00_quickstart.ipynb"
PRUNING = "notebooks/02_skeletons_on_rashomon_ridge.ipynb"
WIDTHS = (1024, 1280, 1920)
SLACK_PX = 2.0   # sub-pixel rounding of text boxes

# The 2-D view's axes: each plane axis' tick labels (text, box) and the colour bar's, with the bar's extent.
AXES_JS = r"""
(root) => {
  const fig = root.querySelector('.rw-surface2d');
  const box = (e) => { const b = e.getBoundingClientRect(); return {x: b.left, r: b.right, y: b.top, b: b.bottom}; };
  const shown = (t) => { const b = t.getBoundingClientRect(); return b.width > 0 && b.height > 0 && getComputedStyle(t).display !== 'none'; };
  const bar = fig.querySelector('g.ColorBar');
  const plane = Array.from(fig.querySelectorAll('g.axis')).filter(g => !g.closest('.ColorBar') && g.querySelector('.tick'));
  return {
    plane: plane.map(g => Array.from(g.querySelectorAll('.tick text')).filter(shown).map(t => ({text: t.textContent, ...box(t)}))),
    bar: box(bar.querySelector('.g-rect rect')),
    barLabel: (bar.querySelector('.axislabel') || {}).textContent,
    barTicks: Array.from(bar.querySelectorAll('g.axis .tick text')).filter(shown).map(t => ({text: t.textContent, ...box(t)})),
  };
}
"""

# Elements inside an explorer that scroll sideways: overflow auto/scroll and content wider than their box.
SCROLLERS_JS = r"""
() => Array.from(document.querySelectorAll('.rw-explorer, .rw-explorer *')).filter(e => {
  const s = getComputedStyle(e);
  return ['auto', 'scroll'].includes(s.overflowX) && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1;
}).map(e => ({cls: String(e.className.baseVal ?? e.className).slice(0, 120), scrollWidth: e.scrollWidth, clientWidth: e.clientWidth}))
"""

# Each similarity value: its text, its fill colour, its centre, and the fill and box of the cell under it.
CELLS_JS = r"""
(root) => {
  const fig = root.querySelector('.rw-similarity');
  const cells = Array.from(fig.querySelectorAll('rect.heatmapcell')).map(r => ({fill: getComputedStyle(r).fill, b: r.getBoundingClientRect()}));
  return Array.from(fig.querySelectorAll('text.label')).map(t => {
    const b = t.getBoundingClientRect(), cx = (b.left + b.right) / 2, cy = (b.top + b.bottom) / 2;
    const cell = cells.find(c => cx >= c.b.left && cx <= c.b.right && cy >= c.b.top && cy <= c.b.bottom);
    return {text: t.textContent, colour: getComputedStyle(t).fill, cell: cell ? cell.fill : null,
            dx: cell ? cx - (cell.b.left + cell.b.right) / 2 : null, dy: cell ? cy - (cell.b.top + cell.b.bottom) / 2 : null,
            w: cell ? cell.b.width : null, h: cell ? cell.b.height : null};
  });
}
"""


def _open(request, browser, notebook):
    server = request.getfixturevalue("voila_server")
    ctx, page, log = B.new_page(browser, viewport=(1280, 1000))
    spec = dict(spec_of(notebook))
    failed = False
    try:
        B.open_notebook(page, server, notebook, spec)
        yield page, spec, log
    except BaseException:
        failed = True
        raise
    finally:
        if failed or request.session.testsfailed:
            B.save_artifacts(f"pictures-{notebook.rsplit('/', 1)[-1]}", page, log, [server])
        ctx.close()


@pytest.fixture(scope="module")
def quickstart(request, browser):
    yield from _open(request, browser, QUICKSTART)


@pytest.fixture(scope="module")
def pruning(request, browser):
    yield from _open(request, browser, PRUNING)


def _rgb(css: str) -> tuple[float, float, float]:
    r, g, b = (float(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def _problems(state: dict, label: str) -> list[str]:
    """What is wrong with the 2-D view's labels: plane labels that touch, colour-bar labels off the bar."""
    out = []
    if state["barLabel"] != label:
        out.append(f"colour bar labelled {state['barLabel']!r}, expected {label!r}")
    ticks, bar = state["barTicks"], state["bar"]
    texts = [t["text"] for t in ticks]
    if not 2 <= len(ticks) <= 4 or len(set(texts)) != len(texts):
        out.append(f"colour bar ticks {texts}: expected 2 to 4 distinct labels")
    off = [t["text"] for t in ticks if not bar["y"] - SLACK_PX <= (t["y"] + t["b"]) / 2 <= bar["b"] + SLACK_PX]
    if off:
        out.append(f"colour bar labels {off} lie off the bar (y {bar['y']:.0f} to {bar['b']:.0f}): {ticks}")
    if len(state["plane"]) != 2:
        out.append(f"expected two plane axes with ticks, found {len(state['plane'])}")
    for labels in state["plane"]:
        if not 3 <= len(labels) <= 7:
            out.append(f"plane axis with {len(labels)} tick labels: {[t['text'] for t in labels]}")
        horizontal = len(labels) > 1 and abs(labels[-1]["x"] - labels[0]["x"]) > abs(labels[-1]["y"] - labels[0]["y"])
        lo, hi = ("x", "r") if horizontal else ("y", "b")
        ordered = sorted(labels, key=lambda t: t[lo])
        touching = [(a["text"], b["text"]) for a, b in zip(ordered, ordered[1:]) if a[hi] > b[lo] - SLACK_PX]
        if touching:
            out.append(f"plane tick labels touch: {touching}")
    return out


def _settled(page, spec, label: str, expect_tick: str | None, timeout_s: float = 30.0) -> dict:
    """The 2-D view's labels once the change is drawn (the colour bar's label and, if given, a plane tick
    text show it), given a few seconds to settle; the last state if they never become right."""
    root = B.scoped(page, spec, "root")
    deadline = page.evaluate("() => performance.now()") + timeout_s * 1000
    state = None
    while page.evaluate("() => performance.now()") < deadline:
        state = root.evaluate(AXES_JS)
        drawn = state["barLabel"] == label and (expect_tick is None or any(
            t["text"] == expect_tick for labels in state["plane"] for t in labels))
        if drawn and not _problems(state, label):
            return state
        page.wait_for_timeout(250)
    return state


def _log_toggle(page, spec):
    return B.scoped(page, spec, "root").get_by_role("button", name=re.compile("log colour")).first


def test_after_every_change_the_2d_view_shows_only_its_current_labels(quickstart):
    page, spec, log = quickstart
    B.scoped(page, spec, "surface2d").scroll_into_view_if_needed()
    steps = [("span 1.5", lambda: B.type_into_span(page, spec, "1.5"), "log10 loss", "1.5"),
             ("log colour off", lambda: _log_toggle(page, spec).click(), "loss", "1.5"),
             ("span 1e6", lambda: B.type_into_span(page, spec, "1e6"), "loss", "1e+6"),
             ("log colour on", lambda: _log_toggle(page, spec).click(), "log10 loss", "1e+6"),
             ("span 1", lambda: B.type_into_span(page, spec, "1"), "log10 loss", "1.0")]
    failures = []
    for name, act, label, tick in steps:
        act()
        state = _settled(page, spec, label, tick)
        problems = _problems(state, label)
        if problems:
            failures.append(f"after {name}: " + "; ".join(problems))
    assert not failures, "\n".join(failures)
    assert B.text_of(B.scoped(page, spec, "error")).strip() == ""
    assert not log.widget_errors(), log.widget_errors()


@pytest.mark.parametrize("fixture", ["quickstart", "pruning"])
def test_no_element_inside_an_explorer_scrolls_sideways(request, fixture):
    page, _spec, _log = request.getfixturevalue(fixture)
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(500)
        scrollers = page.evaluate(SCROLLERS_JS)
        if scrollers:
            found[width] = scrollers
    page.set_viewport_size({"width": 1280, "height": 1000})
    assert not found, f"elements with a horizontal scroll bar (width: elements): {found}"


def test_similarity_values_read_on_their_cells_and_sit_inside_them(pruning):
    from rashomon_widgets.widgets._legend import contrast_ratio

    page, spec, _log = pruning
    root = B.scoped(page, spec, "root")
    root.locator(".rw-similarity").scroll_into_view_if_needed()
    labels = root.evaluate(CELLS_JS)
    assert len(labels) >= 4 and all(re.fullmatch(r"\d\.\d{2,3}", t["text"]) for t in labels), labels
    bad = []
    for t in labels:
        if t["cell"] is None:
            bad.append(f"{t['text']} lies on no cell")
            continue
        ratio = contrast_ratio(_rgb(t["colour"]), _rgb(t["cell"]))
        if ratio < 4.5:
            bad.append(f"{t['text']}: {t['colour']} on {t['cell']} ({ratio:.1f}:1)")
        if abs(t["dx"]) > t["w"] / 4 or abs(t["dy"]) > t["h"] / 4:
            bad.append(f"{t['text']}: {t['dx']:.0f}, {t['dy']:.0f} px off its cell's centre")
    assert not bad, bad
