"""Issue 22: an explorer displayed before its first frame drew a blank spectrum panel for good.

The spectrum's bqplot Bars view pads its linear x scale by half a bar width, computed once when the front
end builds the view (and again only on a resize), from the number of bars it finds. An explorer shown
before its first frame (``first_frame_timeout`` near zero: a large model) has its figure built around the
one placeholder bar: the padding was half the plot width, the x range collapsed to ~2 px, every later
histogram was drawn there (no visible bars) and the x tick labels piled up in the middle. The spectrum's
x scale no longer allows padding (spectrum_view.SpectrumView).

The fixture notebook (tests/browser/notebooks/spectrum_first_frame.ipynb) shows the 26k-parameter digits
explorer with ``first_frame_timeout = 0.01``; its first histogram waits for this test's click on a
checkbox, so the views always exist before the data arrive. Voila, Chromium, 1280 px wide; the
screenshots go to tests/browser/artifacts/spectrum_first_frame/.
"""
from __future__ import annotations

import pytest

from . import _browser as B

pytest_plugins = [f"{__package__}.browser_fixtures"]  # voila_server, browser

NOTEBOOK = "tests/browser/notebooks/spectrum_first_frame.ipynb"
VIEWPORT = (1280, 900)
SPEC = B.spec_for(load_timeout_s=300)   # training the digits net and its chart on a loaded 2-core machine
RELEASE = ".rw-test-release input"
FRAME_TIMEOUT_MS = 180_000               # the first frame of the 26k-parameter explorer, SLQ spectrum included
OUT = B.ARTIFACTS / "spectrum_first_frame"
DECADES = ["0.01", "0.1", "1", "10", "100", "1k", "10k", "100k", "1M", "10M"]   # spectrum_view.decade_label

# The spectrum figure as drawn: its plot area, its bar rectangles, and each axis' label and tick labels,
# all as page boxes.
SPECTRUM_JS = r"""
(fig) => {
  const box = (e) => {
    const b = e.getBoundingClientRect();
    return {l: b.left, r: b.right, t: b.top, b: b.bottom, w: b.width, h: b.height};
  };
  const area = fig.querySelector('.plotarea_background');
  const bars = Array.from(fig.querySelectorAll('.bargroup rect.bar')).map(box);
  const axes = Array.from(fig.querySelectorAll('g.axis')).map(g => {
    const label = g.querySelector('.axislabel');
    const ticks = Array.from(g.querySelectorAll('.tick text')).filter(t => t.textContent.trim() !== '');
    return {label: label ? label.textContent : '', ticks: ticks.map(t => ({text: t.textContent, ...box(t)}))};
  });
  return {area: area ? box(area) : null, groups: fig.querySelectorAll('.bargroup').length, bars, axes};
}
"""

# At least 3 bars with a real height and width: what a drawn histogram has and the collapsed one had not.
BARS_DRAWN_JS = r"""
(fig) => Array.from(fig.querySelectorAll('.bargroup rect.bar'))
  .filter(r => { const b = r.getBoundingClientRect(); return b.height >= 1 && b.width >= 3; }).length >= 3
"""


@pytest.fixture(scope="module")
def page(browser, voila_server, request):
    ctx, page, log = B.new_page(browser, viewport=VIEWPORT)
    failures_before = request.session.testsfailed
    failed = False
    try:
        B.open_voila(page, voila_server, NOTEBOOK, SPEC)
        yield page, log
    except BaseException:
        failed = True
        raise
    finally:
        if failed or request.session.testsfailed > failures_before:
            B.save_artifacts("spectrum_first_frame-voila", page, log, [voila_server])
        ctx.close()


def _spectrum(page):
    return B.scoped(page, SPEC, "spectrum")


def _drawn(page) -> dict:
    return _spectrum(page).evaluate(SPECTRUM_JS)


def _axis(drawn: dict, label_part: str) -> dict:
    axes = [a for a in drawn["axes"] if label_part in a["label"]]
    assert axes, f"no axis labelled {label_part!r} in the spectrum: {[a['label'] for a in drawn['axes']]}"
    return axes[0]


def _assert_readable(drawn: dict, when: str) -> None:
    area = drawn["area"]
    assert area and area["w"] > 100 and area["h"] > 100, f"{when}: the spectrum's plot area is {area}"
    bars = [b for b in drawn["bars"] if b["h"] >= 1]
    assert len(bars) >= 3, f"{when}: only {len(bars)} bars with a height (of {len(drawn['bars'])}): {bars}"
    thin = [b for b in bars if b["w"] < 3]
    assert not thin, f"{when}: bars squeezed to under 3 px wide (a collapsed x range): {thin}"
    outside = [b for b in bars if b["l"] < area["l"] - 1 or b["r"] > area["r"] + 1
               or b["t"] < area["t"] - 1 or b["b"] > area["b"] + 1]
    assert not outside, f"{when}: bars outside the plot area {area}: {outside}"
    spread = max(b["r"] for b in bars) - min(b["l"] for b in bars)
    assert spread > 0.3 * area["w"], f"{when}: the bars span {spread:.0f} px of a {area['w']:.0f} px plot area"
    for label, across in (("eigenvalue", "horizontal"), ("count", "vertical")):
        ticks = _axis(drawn, label)["ticks"]
        assert len(ticks) >= 3, f"{when}: {label} axis has {len(ticks)} tick labels: {ticks}"
        key, lo, hi = ("l", "l", "r") if across == "horizontal" else ("t", "t", "b")
        ticks = sorted(ticks, key=lambda t: t[key])
        overlaps = [(a["text"], b["text"]) for a, b in zip(ticks, ticks[1:]) if b[lo] < a[hi] - 0.5]
        assert not overlaps, f"{when}: overlapping {label} tick labels {overlaps}: {ticks}"
    y_axis = _axis(drawn, "count")
    if "log scale" in y_axis["label"]:   # decades labelled by their counts, not the heights they are drawn at
        texts = [t["text"] for t in sorted(y_axis["ticks"], key=lambda t: -t["t"])]
        assert all(t in DECADES for t in texts) and len(set(texts)) == len(texts), (
            f"{when}: the log count axis is labelled {texts}, expected decades such as {DECADES[:6]}")
    x_ticks = _axis(drawn, "eigenvalue")["ticks"]
    span = max(t["r"] for t in x_ticks) - min(t["l"] for t in x_ticks)
    assert span > 0.5 * area["w"], (f"{when}: the x tick labels span {span:.0f} px of a {area['w']:.0f} px plot "
                                    f"area (piled up): {[t['text'] for t in x_ticks]}")


def _panel(page):
    """The spectrum's whole panel: the figure, its legend and the near-zero caption under it."""
    return B.scoped(page, SPEC, "root").locator(f"{B.VIEW_CLASS}:has({SPEC['spectrum']})").last


def _save(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    panel = _panel(page)
    panel.scroll_into_view_if_needed()
    (OUT / f"{name}-spectrum.png").write_bytes(B.stable_screenshot(panel))
    page.screenshot(path=str(OUT / f"{name}-page.png"))


# Counts the status line's changes to "updated in ..." from now on (a frame's text can repeat the last one's).
WATCH_STATUS_JS = r"""
(e) => {
  window.__rwUpdated = 0;
  if (window.__rwStatusObserver) window.__rwStatusObserver.disconnect();
  window.__rwStatusObserver = new MutationObserver(() => {
    if (e.textContent.includes('updated in')) window.__rwUpdated += 1;
  });
  window.__rwStatusObserver.observe(e, {subtree: true, childList: true, characterData: true});
}
"""


def _frame_after(page, action) -> str:
    """Do ``action()`` and wait until the explorer reports its next frame drawn; its status text."""
    status = B.scoped(page, SPEC, "status")
    status.evaluate(WATCH_STATUS_JS)
    action()
    B.wait_for(page, "() => window.__rwUpdated > 0", None, "the explorer did not finish its frame",
               FRAME_TIMEOUT_MS, 250)
    return B.text_of(status)


def test_the_spectrum_figure_exists_before_its_first_histogram(page):
    page, _log = page
    assert B.broken_texts(page) == [], f"broken output on the page: {B.broken_texts(page)}"
    drawn = _drawn(page)
    assert drawn["groups"] <= 1, (f"the first histogram ({drawn['groups']} bar groups) arrived before the test "
                                  "released it: the fixture's gate did not hold it")
    assert "updated in" not in B.text_of(B.scoped(page, SPEC, "status"))


def test_the_first_histogram_draws_bars_and_spread_ticks_at_1280px(page):
    page, _log = page
    _frame_after(page, lambda: page.locator(RELEASE).first.check())
    spectrum = _spectrum(page)
    B.wait_for(page, BARS_DRAWN_JS, spectrum.element_handle(), "the spectrum drew no bars after its first frame")
    _save(page, "first-frame-1280")
    _assert_readable(_drawn(page), "first frame")
    caption = B.text_of(_panel(page).locator(".rw-near-zero").first)
    # an SLQ estimate's count comes with its uncertainty (SpectrumEstimate.count_text)
    assert "eigenvalues near zero" in caption and ("95%" in caption or "precision unknown" in caption), caption


def test_the_spectrum_stays_drawn_after_a_move(page):
    page, _log = page
    _frame_after(page, lambda: B.press_slider(page, SPEC))
    _save(page, "after-move-1280")
    _assert_readable(_drawn(page), "after a slider move")


def test_no_widget_errors_reported(page):
    page, log = page
    errors = log.widget_errors()
    kernel = B.kernel_errors(page)
    assert kernel is not None, "the kernel error probe is not installed"
    assert not errors and not kernel, "widget errors:\n" + "\n".join(errors) + "\nkernel errors:\n" + "\n".join(kernel)
