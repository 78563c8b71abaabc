"""Fixtures of the real-browser suite: a Voila server, a JupyterLab server, Debian's Chromium.

A plugin module (test modules say ``pytest_plugins = ["browser_fixtures"]``), not a conftest.py: with
rootdir-style imports every conftest.py is imported as the module ``conftest``, and a second one here
would shadow tests/conftest.py for the ``from conftest import make_case`` of the unit tests.

Servers start on free ports on 127.0.0.1 on first use and stop (with their kernels) at the end of the
session. Chromium is launched once per session; every notebook gets its own browser context.
On a failure the page's screenshot, console log and server logs are kept in build/browser-artifacts/.
"""
from __future__ import annotations

import pytest

import _browser as B


def _server(kind, tmp_path_factory):
    srv = B.Server(kind, tmp_path_factory.mktemp(f"{kind}-server"))
    try:
        srv.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    return srv


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory):
    srv = _server("voila", tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    srv = _server("lab", tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    if not B.CHROMIUM.exists():
        pytest.fail(B.CHROMIUM_MISSING, pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = B.launch_chromium(p)
        yield b
        b.close()
