"""Every notebook of notebook_specs.NOTEBOOKS, in Voila and in JupyterLab, in a real Chromium.

Per notebook and front end the page is opened once (module-scoped fixture); the tests then run in
order on it: the views render, a keyboard-moved slider redraws the 2-D and 3-D views and the loss
readout, a bad span shows an error and leaves the page usable, the explorers' views neither overlap nor
get cut off at a workshop's screen widths (the page is resized, not reopened; in JupyterLab with the
file browser open), and nothing reported a widget error.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass

import pytest

from . import _browser as B
from .notebook_specs import NOTEBOOKS

pytest_plugins = [f"{__package__}.browser_fixtures"]  # voila_server, lab_server, browser

MODES = ("voila", "lab")
CASES = [(nb, spec, mode) for nb, spec in NOTEBOOKS for mode in MODES]


def _case_id(case):
    nb, _spec, mode = case
    return f"{nb.rsplit('/', 1)[-1].removesuffix('.ipynb')}-{mode}"


# A workshop's screens: viewport widths at one laptop-like height.
LAYOUT_WIDTHS = (1024, 1280, 1920)
LAYOUT_HEIGHT = 800


@dataclass
class Loaded:
    case_id: str
    notebook: str
    mode: str
    spec: dict
    page: object
    log: B.PageLog
    seconds: float

    def has(self, key: str) -> bool:
        return bool(self.spec.get(key))

    def el(self, key: str):
        return B.scoped(self.page, self.spec, key)


@pytest.fixture(scope="module", params=CASES, ids=[_case_id(c) for c in CASES])
def loaded(request, browser):
    notebook, spec, mode = request.param
    server = request.getfixturevalue(f"{mode}_server")
    ctx, page, log = B.new_page(browser)
    failures_before = request.session.testsfailed
    failed = False
    try:
        seconds = B.open_notebook(page, server, notebook, spec)
        yield Loaded(_case_id(request.param), notebook, mode, spec, page, log, seconds)
    except BaseException:
        failed = True
        raise
    finally:
        # Tests of one case run between this fixture's setup and teardown (module-scoped parameter).
        if failed or request.session.testsfailed > failures_before:
            B.save_artifacts(_case_id(request.param), page, log, [server])
        if mode == "lab":
            try:
                B.shutdown_lab_kernel(page)
            except Exception:  # stopping the server ends it anyway
                pass
        ctx.close()


def test_views_render(loaded):
    page, spec = loaded.page, loaded.spec
    assert B.broken_texts(page) == [], f"broken output on the page: {B.broken_texts(page)}"
    for key in B.SIZED_KEYS:
        if loaded.has(key):
            box = loaded.el(key).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, f"{spec[key]} ({key}) has no size: {box}"
    for key in B.PRESENT_KEYS:
        if loaded.has(key):
            assert loaded.el(key).count() == 1, f"{spec[key]} ({key}) not found inside {spec['root']}"
    if loaded.has("surface2d"):
        heat = loaded.el("surface2d").locator(spec["heatmap"])
        assert heat.count() >= 1, f"no heatmap mark ({spec['heatmap']}) in {spec['surface2d']}"
        if spec["heatmap"].startswith("image"):
            assert (heat.first.get_attribute("href") or "").startswith("data:image"), "the HeatMap image is empty"
        else:  # a GridHeatMap: one filled cell per entry
            assert heat.count() >= 4, f"only {heat.count()} cells ({spec['heatmap']}) in {spec['surface2d']}"
            assert heat.first.evaluate("e => getComputedStyle(e).fill") not in ("", "none")
    if loaded.has("surface3d"):
        sel = f"{spec['root']} {spec['surface3d']}" if spec.get("root") else spec["surface3d"]
        gl = [c for c in B.webgl_canvases(page, sel) if c["type"]]
        assert gl, f"no WebGL canvas in {spec['surface3d']}: {B.webgl_canvases(page, sel)}"
        assert all(c["width"] > 0 and c["height"] > 0 and not c["lost"] for c in gl), gl
        assert B.gl_stats(page)["draws"] > 0, "the 3-D view never issued a WebGL draw call"
    for selector, text in spec.get("expect_text", {}).items():
        got = B.text_of(page.locator(selector).first)
        assert text in got, f"{selector}: expected {text!r} in {got!r}"


def _is(loaded, notebook_prefix: str) -> bool:
    return loaded.notebook.rsplit("/", 1)[-1].startswith(notebook_prefix)


def _explorers(loaded):
    return loaded.page.locator(B.DEFAULT_SPEC["root"])


def test_explorers_tag_their_views(loaded):
    """Explorers 2.0: every explorer tags each panel with .rw-view (the layout check then uses them)."""
    counts = loaded.page.evaluate(
        "([ex, v]) => Array.from(document.querySelectorAll(ex)).map(e => e.querySelectorAll(v).length)",
        [B.DEFAULT_SPEC["root"], B.VIEW_CLASS])
    assert counts, "no explorer on the page"
    assert all(n >= 3 for n in counts), f"{B.VIEW_CLASS} per explorer: {counts} (expected at least 3 each)"


def test_toy_explorer_at_its_minimum_after_run_all(loaded):
    """01: after Run All the toy NullSpaceExplorer (the page's first explorer) sits at 0 with loss 0."""
    if not _is(loaded, "01_"):
        pytest.skip("notebook 01 only")
    toy = _explorers(loaded).first
    sliders = toy.locator(f"{B.DEFAULT_SPEC['slider']} .noUi-handle")
    assert sliders.count() >= 1, "the toy explorer has no .rw-slider"
    values = [float(sliders.nth(i).get_attribute("aria-valuenow")) for i in range(sliders.count())]
    readouts = [r.strip() for r in toy.locator(f"{B.DEFAULT_SPEC['slider']} .widget-readout").evaluate_all(
        "es => es.map(e => e.value || e.textContent)")]
    loss = B.text_of(toy.locator(B.DEFAULT_SPEC["loss"]).first).strip()
    m = re.match(r"loss\s*=\s*([-+0-9.eE]+)", loss)
    assert all(v == 0 for v in values) and all(float(r) == 0 for r in readouts if r), (
        f"toy explorer sliders at {values} (readouts {readouts}), expected all 0; loss readout {loss!r}")
    assert m and float(m.group(1)) == 0.0, f"toy explorer loss readout {loss!r}, expected 'loss = 0.0000e+00 ...'"


def test_magic_demo_displays_an_explorer(loaded):
    """00: the %rashomon magic demo displays a second explorer below the first."""
    if not _is(loaded, "00_"):
        pytest.skip("notebook 00 only")
    n = _explorers(loaded).count()
    assert n >= 2, f"{n} {B.DEFAULT_SPEC['root']} on the quickstart page: the %rashomon demo displayed none"


# ipywidgets' controls, as their front-end classes
CONTROLS = (".widget-slider", ".widget-text", ".widget-dropdown", ".widget-checkbox", ".widget-toggle-buttons",
            ".widget-play", "button.jupyter-button", ".widget-select", ".widget-radio", ".widget-toggle-button")


def test_explorers_have_play_export_and_help(loaded):
    """Explorers 2.0: every explorer has a Play button, an export button, and help on every control
    (a title attribute on the control or inside it, or a .rw-help line in the control's box)."""
    report = loaded.page.evaluate(
        """([ex, controls]) => Array.from(document.querySelectorAll(ex)).map((e, i) => {
             const sel = controls.join(',');
             const outer = (c) => {
               for (let a = c.parentElement; a && a !== e; a = a.parentElement) if (a.matches(sel)) return false;
               return true;
             };
             const ctl = Array.from(e.querySelectorAll(sel))   // a Play's buttons are one control; hidden ones are none
               .filter(c => outer(c) && c.getClientRects().length > 0);
             const helped = (c) => (c.title && c.title.trim()) ||
               Array.from(c.querySelectorAll('[title]')).some(t => t.title.trim()) ||
               (c.parentElement && c.parentElement.querySelector(':scope > .rw-help'));
             const label = (c) => {
               const l = c.querySelector('.widget-label, .widget-label-basic');
               return (l && l.textContent.trim()) || c.textContent.trim().slice(0, 20) || c.className;
             };
             return {index: i, play: e.querySelectorAll('.widget-play').length,
                     export: e.querySelectorAll('.rw-export').length,
                     controls: ctl.length, unhelped: ctl.filter(c => !helped(c)).map(label)};
           })""", [B.DEFAULT_SPEC["root"], list(CONTROLS)])
    assert report, "no explorer on the page"
    problems = []
    for r in report:
        if not r["play"]:
            problems.append(f"explorer {r['index']}: no Play button (.widget-play)")
        if not r["export"]:
            problems.append(f"explorer {r['index']}: no export button (.rw-export)")
        if r["unhelped"]:
            problems.append(f"explorer {r['index']}: {len(r['unhelped'])} of {r['controls']} controls without help "
                            f"(title or .rw-help): {r['unhelped']}")
    assert not problems, "\n".join(problems)


def _move_slider_and_check_redraw(loaded):
    page = loaded.page
    views = [(k, loaded.el(k)) for k in ("surface2d", "surface3d") if loaded.has(k)]
    before = [B.stable_screenshot(v) for _, v in views]
    draws = B.gl_stats(page)["draws"]
    loss = loaded.el("loss") if loaded.has("loss") else None
    loss_before = B.text_of(loss) if loss is not None else None
    B.press_slider(page, loaded.spec)
    if loss is not None:
        after = B.wait_text_changes(page, loss, loss_before, f"the loss readout {loaded.spec['loss']}")
        assert after.strip(), "the loss readout went empty"
    for (key, view), shot in zip(views, before):
        B.wait_screenshot_changes(view, shot, f"the {key} view {loaded.spec[key]}")
    if loaded.has("surface3d"):
        assert B.gl_stats(page)["draws"] > draws, "the 3-D view changed without a WebGL draw"


def test_slider_redraws_views_and_loss(loaded):
    if not loaded.has("slider"):
        pytest.skip(f"{loaded.notebook}: its spec says slider=None (no slider to move)")
    _move_slider_and_check_redraw(loaded)


def test_bad_span_shows_error_and_page_stays_usable(loaded):
    if not (loaded.has("span") and loaded.has("error")):
        pytest.skip(f"{loaded.notebook}: its spec says span=None or error=None (no span input)")
    page, spec = loaded.page, loaded.spec
    error = loaded.el("error")
    before = B.text_of(error)
    B.type_into_span(page, spec, spec["bad_span"])
    B.wait_for(page, "([e, b]) => e.textContent !== b && e.textContent.trim() !== ''",
               [error.element_handle(), before],
               f"typing {spec['bad_span']!r} + Enter into {spec['span']} put no message into {spec['error']}")
    message = B.text_of(error).strip()
    if spec.get("error_text"):
        assert spec["error_text"].lower() in message.lower(), message
    assert error.is_visible(), "the error message is not visible"
    assert B.broken_texts(page) == []
    if loaded.has("slider"):
        _move_slider_and_check_redraw(loaded)


@pytest.mark.parametrize("width", LAYOUT_WIDTHS)
def test_layout_at_screen_width(loaded, width):
    """At width x 800 (JupyterLab with the file browser open): no two views of an explorer overlap,
    none is cut off by the viewport or a clipping / scrolling ancestor, no bqplot title or axis label
    leaves its figure. Screenshots of the page and of every explorer are saved, pass or fail."""
    page = loaded.page
    side = B.open_lab_left_panel(page) if loaded.mode == "lab" else None
    B.resize(page, width, LAYOUT_HEIGHT)
    report = B.measure_layout(page)
    folder = B.ARTIFACTS / "layout" / f"{loaded.case_id}-{width}"
    shutil.rmtree(folder, ignore_errors=True)
    B.save_layout_screenshots(folder, page)
    (folder / "layout.json").write_text(json.dumps({"side_panel": side, "explorers": report}, indent=1))
    assert report, f"no {B.DEFAULT_SPEC['root']} on the page"
    for ex in report:
        assert ex["views"], f"explorer {ex['index']} {ex['explorer']}: no visible {B.VIEW_CLASS}"
    problems = B.layout_problems(report)
    assert not problems, (f"layout at {width} x {LAYOUT_HEIGHT}"
                          + (f" (file browser {side['width']:.0f} px)" if side else "")
                          + f", screenshots in {folder}:\n" + "\n".join(problems))


def test_no_widget_errors_reported(loaded):
    errors = loaded.log.widget_errors()
    kernel = B.kernel_errors(loaded.page)
    assert kernel is not None, "the kernel error probe is not installed"
    assert not errors and not kernel, (
        "widget errors:\n" + "\n".join(errors) + "\nkernel errors:\n" + "\n".join(kernel))
