"""Every notebook of notebook_specs.NOTEBOOKS, in Voila and in JupyterLab, in a real Chromium.

Per notebook and front end the page is opened once (module-scoped fixture); the tests then run in
order on it: the views render, a keyboard-moved slider redraws the 2-D and 3-D views and the loss
readout, a bad span shows an error and leaves the page usable, and nothing reported a widget error.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

import _browser as B
from notebook_specs import NOTEBOOKS

pytest_plugins = ["browser_fixtures"]  # voila_server, lab_server, browser

MODES = ("voila", "lab")
CASES = [(nb, spec, mode) for nb, spec in NOTEBOOKS for mode in MODES]


def _case_id(case):
    nb, _spec, mode = case
    return f"{nb.rsplit('/', 1)[-1].removesuffix('.ipynb')}-{mode}"


@dataclass
class Loaded:
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
        yield Loaded(notebook, mode, spec, page, log, seconds)
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
            except Exception:  # noqa: BLE001 - stopping the server ends it anyway
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


def test_no_widget_errors_reported(loaded):
    errors = loaded.log.widget_errors()
    kernel = B.kernel_errors(loaded.page)
    assert kernel is not None, "the kernel error probe is not installed"
    assert not errors and not kernel, (
        "widget errors:\n" + "\n".join(errors) + "\nkernel errors:\n" + "\n".join(kernel))
