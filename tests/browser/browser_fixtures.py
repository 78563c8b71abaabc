"""Fixtures of the real-browser suite: a Voila server, a JupyterLab server, Debian's Chromium.

A plugin module: test modules say ``pytest_plugins = [f"{__package__}.browser_fixtures"]``.

Servers start on free ports on 127.0.0.1 on first use and stop (with their kernels) at the end of the
session. Chromium is launched once per session; every notebook gets its own browser context.
Screenshots of the layout checks, and on a failure the page's screenshot, console log and server logs,
are kept in tests/browser/artifacts/ (or $RASHOMON_ARTIFACTS); the folder is printed at the end.
"""
from __future__ import annotations

import pytest

from . import _browser as B


def _server(kind, tmp_path_factory, theme="light"):
    srv = B.Server(kind, tmp_path_factory.mktemp(f"{kind}-{theme}-server"), theme=theme)
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
def lab_dark_server(tmp_path_factory):
    """JupyterLab opening in the "JupyterLab Dark" theme (a user setting of its own settings folder)."""
    srv = _server("lab", tmp_path_factory, theme="dark")
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


def pytest_terminal_summary(terminalreporter):
    if B.ARTIFACTS.exists() and any(B.ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots and logs: {B.ARTIFACTS}")
