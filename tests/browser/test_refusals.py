"""Issue 23, controls that tell the truth, in a real Chromium (Voila and JupyterLab).

The fixture notebook (tests/browser/notebooks/refusals.ipynb) shows the XOR net's NullSpaceExplorer. A person
types values it refuses into the span box and picks the same direction for both axes: each control must show
the kept value again, and the message must name the input and replace the one before (a FloatText's front end
dropped "NaN" without telling the kernel, so the previous error stayed on screen); a good value clears it. Every
visible button has a tooltip and no tooltip is raw markup (the log colour checkbox showed "<span title=...>");
pause keeps the animation's position and stop rewinds it.
"""
from __future__ import annotations

import time

import pytest

from . import _browser as B

pytest_plugins = [f"{__package__}.browser_fixtures"]  # voila_server, lab_server, browser

NOTEBOOK = "tests/browser/notebooks/refusals.ipynb"
SPEC = B.spec_for()
MODES = ("voila", "lab")


@pytest.fixture(scope="module", params=MODES)
def page(request, browser):
    server = request.getfixturevalue(f"{request.param}_server")
    ctx, page, log = B.new_page(browser)
    failures_before = request.session.testsfailed
    failed = False
    try:
        B.open_notebook(page, server, NOTEBOOK, SPEC)
        yield page, log
    except BaseException:
        failed = True
        raise
    finally:
        if failed or request.session.testsfailed > failures_before:
            B.save_artifacts(f"refusals-{request.param}", page, log, [server])
        if request.param == "lab":
            try:
                B.shutdown_lab_kernel(page)
            except Exception:  # stopping the server ends it anyway
                pass
        ctx.close()


def _root(page):
    return B.scoped(page, SPEC, "root")


def _box(page):
    return B.scoped(page, SPEC, "span").locator("input").first


def _error(page) -> str:
    return B.text_of(B.scoped(page, SPEC, "error"))


def _type(page, text: str) -> None:
    """Type ``text`` into the span box as a person does (select all, type, Enter)."""
    box = _box(page)
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _wait_box_and_error(page, box_text: str, error_has: str, what: str) -> None:
    B.wait_for(page, "([b, e, v, s]) => b.value === v && e.textContent.includes(s)",
               [_box(page).element_handle(), B.scoped(page, SPEC, "error").element_handle(), box_text, error_has],
               f"{what}: expected the box to show {box_text!r} and the error to contain {error_has!r}")


def test_a_refused_span_returns_the_box_and_names_the_span(page):
    page, _log = page
    _type(page, "1e308")
    _wait_box_and_error(page, "1", "span stays 1", "after typing 1e308")
    message = _error(page)
    assert "span: expected" in message and "1e+308" in message and "thetas" not in message, message


def test_nan_replaces_the_previous_message(page):
    page, _log = page
    _type(page, "NaN")   # a FloatText's front end dropped it: the kernel never heard, the 1e308 message stayed
    _wait_box_and_error(page, "1", "got 'NaN'", "after typing NaN")
    message = _error(page)
    assert "span: expected a finite number, got 'NaN'; span stays 1" in message and "1e+308" not in message, message


def test_a_good_span_clears_the_message(page):
    page, _log = page
    _type(page, "0.5")
    B.wait_for(page, "([b, e, s]) => b.value === '0.5' && e.textContent.trim() === '' "
                     "&& s.textContent.includes('updated in')",
               [_box(page).element_handle(), B.scoped(page, SPEC, "error").element_handle(),
                B.scoped(page, SPEC, "status").element_handle()],
               "typing 0.5 did not clear the message and draw")


def test_the_same_direction_on_both_axes_returns_the_dropdown(page):
    page, _log = page
    root = _root(page)
    x = root.locator(".widget-dropdown").filter(has_text="x axis").locator("select").first
    y = root.locator(".widget-dropdown").filter(has_text="y axis").locator("select").first
    shown = "(s) => s.options[s.selectedIndex].text.replace(/\\u00a0/g, ' ')"   # ipywidgets writes spaces as nbsp
    kept = y.evaluate(shown)
    y.select_option(label=x.evaluate(shown))
    B.wait_for(page, f"([s, e, k]) => ({shown})(s) === k && e.textContent.includes('y axis (y_axis): expected')",
               [y.element_handle(), B.scoped(page, SPEC, "error").element_handle(), kept],
               f"choosing the x axis' direction for the y axis did not put the y axis back on {kept!r} with a message")
    assert f"y axis (y_axis) stays '{kept}'" in _error(page), _error(page)


def test_every_button_has_a_tooltip_and_none_is_markup(page):
    page, _log = page
    report = _root(page).evaluate(
        """(root) => {
             const visible = (e) => e.getClientRects().length > 0;
             const titles = Array.from(root.querySelectorAll('[title]')).filter(visible)
               .map(e => e.getAttribute('title'));
             const buttons = Array.from(root.querySelectorAll('button')).filter(visible);
             return {markup: titles.filter(t => /[<>]/.test(t)),
                     untitled: buttons.filter(b => !(b.title || '').trim())
                       .map(b => b.textContent.trim() || b.className),
                     buttons: buttons.map(b => b.textContent.trim() + ': ' + b.title)};
           }""")
    assert not report["markup"], f"tooltips with markup: {report['markup']}"
    assert not report["untitled"], f"buttons without a tooltip: {report['untitled']}"
    texts = "\n".join(report["buttons"])
    for name in ("play:", "pause:", "stop:", "loop:", "log colour:", "reset:", "export:"):
        assert name in texts, texts
    assert "keeps its position" in texts and "rewind" in texts, texts


def _null_1(page) -> float:
    return float(_root(page).locator(f"{SPEC['slider']} .noUi-handle").first.get_attribute("aria-valuenow"))


def test_pause_keeps_the_position_and_stop_rewinds(page):
    page, _log = page
    root = _root(page)
    handle = root.locator(f"{SPEC['slider']} .noUi-handle").first.element_handle()
    root.locator(".rw-play-button").first.click()
    B.wait_for(page, "(h) => Number(h.getAttribute('aria-valuenow')) !== 0", handle,
               "play did not move the animated slider (null 1)")
    root.locator(".rw-pause").first.click()
    time.sleep(1.0)               # frames already on their way settle
    paused = _null_1(page)
    time.sleep(1.5)               # at 150 ms a frame, ten more frames would have moved it
    assert _null_1(page) == paused != 0, "pause did not keep the animation's position"
    root.locator(".rw-stop").first.click()
    B.wait_for(page, "(h) => Number(h.getAttribute('aria-valuenow')) === 0", handle,
               "stop did not rewind the animated slider to its start")
    time.sleep(1.0)
    assert _null_1(page) == 0.0, "the animation went on after stop"


def test_no_widget_errors_reported(page):
    page, log = page
    errors = log.widget_errors()
    kernel = B.kernel_errors(page)
    assert kernel is not None, "the kernel error probe is not installed"
    assert not errors and not kernel, "widget errors:\n" + "\n".join(errors) + "\nkernel errors:\n" + "\n".join(kernel)
