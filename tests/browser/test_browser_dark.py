"""The quickstart in JupyterLab's dark theme ("JupyterLab Dark"), at 1280 x 800 px.

A workshop's projector or a participant's laptop may run JupyterLab dark: the 3-D view must not be a
white box on the dark page. The JupyterLab server of this module starts with the theme set in its
user settings (see _browser.jupyter_env); Voila takes ``--theme=dark`` or ``?theme=dark`` the same way.
"""
from __future__ import annotations

import pytest

from . import _browser as B
from .notebook_specs import spec_of

pytest_plugins = [f"{__package__}.browser_fixtures"]  # lab_dark_server, browser

NOTEBOOK = "notebooks/00_quickstart.ipynb"
VIEWPORT = (1280, 800)
# A white box has brightness ~1; JupyterLab Dark's background (#111111) ~0.07. A dark-themed 3-D view
# (dark background, a coloured surface on part of it) stays well below this.
MAX_3D_BRIGHTNESS = 0.5


@pytest.fixture(scope="module")
def dark_page(browser, lab_dark_server):
    spec = spec_of(NOTEBOOK)
    ctx, page, log = B.new_page(browser, viewport=VIEWPORT)
    failed = False
    try:
        B.open_lab(page, lab_dark_server, NOTEBOOK, spec)
        yield page, spec, log
    except BaseException:
        failed = True
        raise
    finally:
        if failed:
            B.save_artifacts("00_quickstart-lab-dark", page, log, [lab_dark_server])
        try:
            B.shutdown_lab_kernel(page)
        except Exception:  # stopping the server ends it anyway
            pass
        ctx.close()


def test_lab_opens_in_the_dark_theme(dark_page):
    page, _spec, _log = dark_page
    bg = B.page_background(page)
    assert bg["theme"] == B.LAB_DARK_THEME and bg["light"] == "false", f"JupyterLab is not in the dark theme: {bg}"
    assert bg["brightness"] < 0.3, f"the page background is not dark: {bg}"


def test_3d_view_is_not_a_white_box_in_the_dark_theme(dark_page):
    page, spec, _log = dark_page
    view = B.scoped(page, spec, "surface3d")
    view.scroll_into_view_if_needed()
    shot = B.stable_screenshot(view)
    folder = B.ARTIFACTS / "dark"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "00_quickstart-lab-dark-surface3d.png").write_bytes(shot)
    B.save_layout_screenshots(folder / "00_quickstart-lab-dark-1280", page)
    bg = B.page_background(page)
    got = B.brightness(shot)
    assert got["mean"] < MAX_3D_BRIGHTNESS and max(got["corners"]) < MAX_3D_BRIGHTNESS, (
        f"the 3-D view {spec['surface3d']} is a light box on the dark page: mean brightness {got['mean']:.2f}, "
        f"corners {got['corners']} (page background {bg['color']}, brightness {bg['brightness']:.2f}); "
        f"screenshot in {folder}")
