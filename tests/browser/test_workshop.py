"""A workshop from one link: the shipped Jupyter configuration (jupyter-config/) and `make lab`.

Binder gives server and kernels 2 GiB together. In a fresh clone of the working tree, JupyterLab is
started by `make lab` itself (this checkout's venv, a free port, no browser) and a student's flow runs
in one Chromium page: open 00, run all, save, close the tab; the same with 01; open 03, run all, save;
close it. The memory (PSS) of the server and all its descendants is sampled throughout: the peak stays
under 1.5 GB and, once a tab is closed, its kernel is gone and the total is under 1 GB. The sweep of 03
leaves no worker process behind. Then, with the server stopped, `git status` of the clone is empty:
saving wrote into the git-ignored workspace/, not into notebooks/.

Runs at RASHOMON_SMALL=1 sizes (as `make test` does); about three minutes on a loaded 2-core machine.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

import psutil
import pytest

from . import _browser as B
from . import _workshop as W

pytest_plugins = [f"{__package__}.browser_fixtures"]  # browser

GB = 1e9
PEAK_LIMIT = 1.5 * GB
AFTER_CLOSE_LIMIT = 1.0 * GB


@pytest.fixture(scope="module")
def workshop(tmp_path_factory):
    """(clone, Lab): a clone of the working tree with JupyterLab running as `make lab` starts it."""
    tmp = tmp_path_factory.mktemp("workshop")
    tree = W.clone_working_tree(tmp / "clone")
    assert W.porcelain(tree) == "", "the fresh clone is not clean to begin with"
    lab = W.Lab(W.make_lab_command(tree, B.free_port()), tree, tmp / "jupyter")
    try:
        lab.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield tree, lab
    lab.stop()


def _report(lines: list[str]) -> None:
    B.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (B.ARTIFACTS / "workshop-memory.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def test_shipped_settings_reach_jupyterlab(workshop):
    _tree, lab = workshop
    tracker = lab.lab_setting("@jupyterlab/notebook-extension:tracker")
    assert tracker.get("kernelShutdown") is True, tracker
    news = lab.lab_setting("@jupyterlab/apputils-extension:notification")
    assert news.get("fetchNews") == "false" and news.get("checkForUpdates") is False, news
    log = lab.log_tail(400)
    assert "Serving notebooks from local directory: " + str(_tree / "workspace") in log, log


def test_student_flow_memory(workshop, browser):
    tree, lab = workshop
    lines: list[str] = []
    leftovers: dict = {}

    def after_run(name):
        if name.startswith("03_"):
            leftovers.update(W.kernel_children(lab))

    ctx, page, log = B.new_page(browser)
    try:
        with W.PssSampler(lab) as sampler:
            result = W.student_flow(page, lab, sampler, report=lines.append, after_run=after_run)
        text = page.evaluate("() => document.body.innerText")
    except BaseException:
        B.save_artifacts("workshop-flow", page, log)
        (B.ARTIFACTS / "failures" / "workshop-flow" / "lab.log").write_text(lab.log_tail(400))
        raise
    finally:
        ctx.close()
    for label, (peak, n) in sampler.by_label().items():
        lines.append(f"{label:>55}: peak {peak / GB:.2f} GB, up to {n} processes")
    lines.append(f"peak {result['peak'] / GB:.2f} GB (server + kernels, PSS, RASHOMON_SMALL="
                 f"{os.environ.get('RASHOMON_SMALL', '')})")
    _report(lines)

    assert "Jupyter news" not in text, "the news pop-up is shown"
    # the sweep's worker processes are gone once 03 has run (a resource tracker may stay)
    workers = {k: [c for c in v if "resource_tracker" not in c] for k, v in leftovers.items()}
    assert not any(workers.values()), f"processes left by notebook 03's kernel: {workers}"
    assert result["peak"] < PEAK_LIMIT, "\n".join(lines)
    for name, _timeout, _close in W.FLOW:
        assert result[f"kernels after close {name}"] == 0, f"closing {name} left its kernel running"
        assert result[f"after close {name}"] < AFTER_CLOSE_LIMIT, "\n".join(lines)


def test_make_lab_leaves_the_clone_clean(workshop, browser):
    """Run and save (Ctrl+S) a notebook; once the server stops, `git status` is empty."""
    tree, lab = workshop
    saved = tree / "workspace" / "00_quickstart.ipynb"

    def has_outputs(path):
        return any(c.get("outputs") for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")

    if not has_outputs(saved):  # the flow did not get to save it: do it here
        ctx, page, _log = B.new_page(browser)
        try:
            W.open_app(page, lab)
            W.open_and_run(page, saved.name, 240)
            W.save_with_keyboard(page, saved.name)
            W.close_current(page, saved.name)
        finally:
            ctx.close()
    lab.stop()
    assert has_outputs(saved), "Ctrl+S did not write the outputs into the workspace copy"
    status = W.porcelain(tree)
    assert status == "", f"`make lab` changed the clone:\n{status}"


def test_make_lab_starts_without_deprecation_warnings(tmp_path):
    """`make lab`'s start-up, and a kernel's, print nothing deprecated (a room of students reads it)."""
    tree = W.clone_working_tree(tmp_path / "clone")
    lab = W.Lab(W.make_lab_command(tree, B.free_port()), tree, tmp_path / "jupyter")
    try:
        lab.start()
        req = urllib.request.Request(f"{lab.base}/api/kernels", data=b"{}", method="POST",
                                     headers={"Authorization": f"token {lab.token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            kernel = json.loads(r.read())["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and lab.api(f"kernels/{kernel}")["execution_state"] != "idle":
            time.sleep(0.25)
        log = lab.log_tail(400)
    finally:
        lab.stop()
    assert "Jupyter Server" in log and "Culling kernels" in log, log
    deprecated = [line for line in log.splitlines() if "deprecat" in line.lower()]
    assert not deprecated, "\n".join(deprecated)


def test_make_voila_serves_the_tutorials(tmp_path, browser):
    """`make voila` (Voila on 127.0.0.1 with jupyter-config/voila.json, serving notebooks/) renders the quickstart
    with its explorer drawn, and prints nothing deprecated."""
    from .notebook_specs import spec_of

    server = W.MakeVoila(B.REPO, tmp_path)
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    ctx, page, log = B.new_page(browser)
    try:
        B.open_voila(page, server, "00_quickstart.ipynb", spec_of("notebooks/00_quickstart.ipynb"))
        broken, errors = B.broken_texts(page), log.widget_errors()
        text = server.log_tail(400)
    except BaseException:
        B.save_artifacts("make-voila", page, log, servers=(server,))
        raise
    finally:
        ctx.close()
        server.stop()
    assert not broken and not errors, (broken, errors)
    assert f"--Voila.port={server.port}" in text and "Voil" in text and "is running at" in text, text
    assert "Culling kernels with idle durations > 120 seconds" in text, "voila.json was not read:\n" + text
    deprecated = [line for line in text.splitlines() if "deprecat" in line.lower()]
    assert not deprecated, "\n".join(deprecated)


def test_voila_culls_abandoned_kernels(tmp_path):
    """A standalone Voila reads jupyter-config/voila.json: it culls kernels no page is connected to."""
    port = B.free_port()
    root = B.REPO / "tests" / "browser" / "notebooks"
    voila = W.Lab([sys.executable, "-m", "voila", str(root), "--no-browser", f"--port={port}",
                   "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--Voila.token="], root, tmp_path)
    voila.env["JUPYTER_CONFIG_PATH"] = str(B.REPO / "jupyter-config")
    voila.launch()
    voila.server = psutil.Process(voila.proc.pid)
    try:
        deadline = time.monotonic() + B.SERVER_START_TIMEOUT_S
        html = b""
        while time.monotonic() < deadline and not html:
            assert voila.proc.poll() is None, voila.log_tail()
            try:  # Voila runs the notebook in a new kernel while it serves the page
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/smoke.ipynb", timeout=120) as r:
                    html = r.read()
            except OSError:
                time.sleep(0.5)
        assert html, voila.log_tail()
        log = voila.log_tail(400)
        assert "Culling kernels with idle durations > 120 seconds at 30 second intervals" in log, log
        assert "even with connected clients" not in log and "even if busy" not in log, log
    finally:
        voila.stop()


def test_binder_start_uses_the_config(tmp_path):
    """binder/start (run by repo2docker before the server) puts jupyter-config/ in force, from any folder."""
    start = B.REPO / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable for repo2docker to run it"
    port = B.free_port()
    lab = W.Lab([str(start), str(W.VENV / "bin" / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                 f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--allow-root",
                 f"--ServerApp.root_dir={tmp_path}"], tmp_path, tmp_path / "jupyter")
    try:
        lab.start()
        assert lab.lab_setting("@jupyterlab/notebook-extension:tracker").get("kernelShutdown") is True
        assert lab.lab_setting("@jupyterlab/apputils-extension:notification").get("fetchNews") == "false"
        # the culler starts with the first kernel
        req = urllib.request.Request(f"{lab.base}/api/kernels", data=b"{}", method="POST",
                                     headers={"Authorization": f"token {lab.token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 201
        log = lab.log_tail(400)
        assert "Culling kernels with idle durations > 600 seconds at 60 second intervals" in log, log
    finally:
        lab.stop()
