"""Helpers of test_workshop.py: a fresh clone of the working tree, `make lab` in it, the memory of
JupyterLab and its kernels, and a student's flow through the tutorials in one JupyterLab page.

Nothing here is a test. ``python -m tests.browser._workshop`` runs the flow once and prints the memory
(``--old`` against JupyterLab started as `make lab` did before jupyter-config/ existed).
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from . import _browser as B

REPO = B.REPO
VENV = Path(os.environ.get("RW_VENV", REPO / ".venv"))
GB = 1e9


# ---------------------------------------------------------------------------------------------------
# A fresh clone
# ---------------------------------------------------------------------------------------------------

def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=workshop test", "-c", "user.email=test@localhost",
                           "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def clone_working_tree(dest: Path) -> Path:
    """``git clone`` of the repository, plus its uncommitted changes committed in the clone.

    The clone holds exactly the files of the working tree that git tracks or would track (not the
    ignored ones: no venv, no workspace/), so `git status` there is empty to begin with.
    """
    git(REPO.parent, "clone", "--quiet", "--local", str(REPO), str(dest))
    out = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=all"], cwd=REPO,
                         check=True, capture_output=True).stdout.decode()
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            i += 1  # the entry after a rename is its source path
        src, dst = REPO / path, dest / path
        if src.exists() or src.is_symlink():
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
        elif dst.exists() or dst.is_symlink():
            dst.unlink()
    git(dest, "add", "-A")
    if git(dest, "status", "--porcelain").strip():
        git(dest, "commit", "--quiet", "--no-verify", "-m", "the working tree under test")
    return dest


def porcelain(tree: Path) -> str:
    return git(tree, "status", "--porcelain", "--untracked-files=all")


# ---------------------------------------------------------------------------------------------------
# A JupyterLab server and its memory
# ---------------------------------------------------------------------------------------------------

def fresh_jupyter_env(workdir: Path) -> dict:
    """This environment with empty Jupyter folders (no user settings, no user config)."""
    env = dict(os.environ)
    for key, name in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"), ("IPYTHONDIR", "ipython")):
        d = workdir / name
        d.mkdir(parents=True, exist_ok=True)
        env[key] = str(d)
    for key in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def make_lab_command(tree: Path, port: int, extra: str = "") -> list[str]:
    """`make lab` in ``tree`` with this checkout's venv (not rebuilt: -o marks its stamp up to date),
    on ``port``, without a browser. JupyterLab is exposed as window.jupyterapp to drive it."""
    stamp = VENV / ".installed"
    return ["make", "--no-print-directory", "-C", str(tree), "lab", f"VENV={VENV}", "-o", str(stamp),
            f"LAB_PORT={port}", "LAB_BROWSER=no", f"LAB_ARGS=--ServerApp.port_retries=0 "
            f"--LabApp.expose_app_in_browser=True {extra}".strip()]


def make_voila_command(tree: Path, port: int, extra: str = "") -> list[str]:
    """`make voila` in ``tree`` with this checkout's venv (not rebuilt), on ``port``, without a browser."""
    stamp = VENV / ".installed"
    return ["make", "--no-print-directory", "-C", str(tree), "voila", f"VENV={VENV}", "-o", str(stamp),
            f"VOILA_PORT={port}", "VOILA_BROWSER=no", f"VOILA_ARGS=--Voila.port_retries=0 {extra}".strip()]


class MakeVoila(B.Server):
    """`make voila` in ``tree`` as a :class:`_browser.Server` of kind "voila": ``B.open_voila`` opens its pages
    (``url("00_quickstart.ipynb")``: the target serves notebooks/), ``log_tail`` is make's and Voila's output."""

    def __init__(self, tree: Path, workdir: Path):
        super().__init__("voila", workdir, root=Path(tree) / "notebooks")
        self.tree = Path(tree)

    def _command(self, port: int) -> list[str]:
        return make_voila_command(self.tree, port)

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM to Voila itself (make and its shell do not pass it on), so that it shuts its kernels down;
        then whatever is left of make's descendants, by pid."""
        if self.proc is None:
            return
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        for p in descendants:
            with contextlib.suppress(psutil.Error):
                if any(Path(arg).name == "voila" for arg in p.cmdline()[:2]):
                    p.terminate()
                    p.wait(timeout_s)
        super().stop(timeout_s)
        for p in descendants:
            with contextlib.suppress(psutil.Error):
                if p.is_running():
                    p.kill()
        psutil.wait_procs(descendants, timeout=10)


class Lab:
    """A JupyterLab server started by ``command``; its URL and token come from its runtime file."""

    def __init__(self, command: list[str], cwd: Path, workdir: Path):
        self.command, self.cwd, self.workdir = command, Path(cwd), Path(workdir)
        self.env = fresh_jupyter_env(self.workdir)
        self.log_path = self.workdir / "lab.log"
        self.proc: subprocess.Popen | None = None
        self.server: psutil.Process | None = None
        self.base = self.token = None

    def launch(self) -> "Lab":
        """Start the command (in a session of its own) without waiting for it."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    def start(self, timeout_s: float = B.SERVER_START_TIMEOUT_S) -> "Lab":
        """Start the command and wait until the Jupyter server it runs answers."""
        self.launch()
        runtime = Path(self.env["JUPYTER_RUNTIME_DIR"])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.proc.returncode}:\n{self.log_tail()}")
            for f in glob.glob(str(runtime / "jpserver-*.json")):
                with contextlib.suppress(ValueError, OSError):
                    info = json.loads(Path(f).read_text())
                    self.base, self.token = info["url"].rstrip("/"), info["token"]
                    self.server = psutil.Process(info["pid"])
                    with contextlib.suppress(OSError):
                        if self.api("status") is not None:
                            return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"JupyterLab did not start within {timeout_s:.0f} s:\n{self.log_tail()}")

    def api(self, path: str):
        req = urllib.request.Request(f"{self.base}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def lab_setting(self, plugin: str) -> dict:
        """A JupyterLab plugin's settings in effect: its schema's defaults (where overrides.json lands)
        updated with the user's settings."""
        req = urllib.request.Request(f"{self.base}/lab/api/settings/{plugin}",
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            data = json.loads(r.read())
        props = data["schema"].get("properties", {})
        return {**{k: v.get("default") for k, v in props.items()}, **(data.get("settings") or {})}

    def kernels(self) -> list[dict]:
        return self.api("kernels")

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path}{sep}token={self.token}"

    def processes(self) -> list[psutil.Process]:
        """The server and everything it started (kernels, their workers)."""
        if self.server is None:
            return []
        try:
            return [self.server, *self.server.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def pss(self) -> tuple[int, int]:
        """(PSS in bytes of the server and its descendants, their number)."""
        total = n = 0
        for p in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                total += p.memory_full_info().pss
                n += 1
        return total, n

    def log_tail(self, n: int = 80) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to the server (it shuts its kernels down), then end whatever is left, by pid."""
        if self.proc is None:
            return
        procs = self.processes()
        if self.server is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.server.send_signal(signal.SIGTERM)
            with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
                self.server.wait(timeout_s)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for p in procs:
            with contextlib.suppress(psutil.Error):
                if p.is_running():
                    p.kill()
        psutil.wait_procs(procs, timeout=10)
        self.proc = None


class PssSampler:
    """Samples Lab.pss() every ``interval_s`` in a thread; ``mark(label)`` names what comes next."""

    def __init__(self, lab: Lab, interval_s: float = 0.5):
        self.lab, self.interval_s = lab, interval_s
        self.samples: list[tuple[float, int, int, str]] = []  # (seconds, bytes, processes, label)
        self.label = "start"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        while not self._stop.is_set():
            total, n = self.lab.pss()
            self.samples.append((time.monotonic() - self._t0, total, n, self.label))
            self._stop.wait(self.interval_s)

    def mark(self, label: str) -> None:
        self.label = label

    def now(self) -> int:
        total, n = self.lab.pss()
        self.samples.append((time.monotonic() - self._t0, total, n, self.label))
        return total

    def peak(self, label: str | None = None) -> int:
        vals = [s[1] for s in self.samples if label is None or s[3] == label]
        return max(vals, default=0)

    def by_label(self) -> dict[str, tuple[int, int]]:
        """{label: (peak bytes, most processes)} in the order the labels came."""
        out: dict[str, tuple[int, int]] = {}
        for _t, b, n, label in self.samples:
            pb, pn = out.get(label, (0, 0))
            out[label] = (max(pb, b), max(pn, n))
        return out


# ---------------------------------------------------------------------------------------------------
# A student in one JupyterLab page
# ---------------------------------------------------------------------------------------------------

# The notebook panel of a path, found among the main area's tabs (shell.currentWidget follows the
# focus, which a pop-up can take).
PANEL_JS = """(name) => Array.from(window.jupyterapp.shell.widgets('main'))
                     .find(w => w.context && w.sessionContext && w.context.path.endsWith(name))"""

READY_JS = """(name) => {
  const w = (%s)(name);
  if (!w || !w.context.isReady) return false;
  const s = w.sessionContext;
  return s.isReady && !!s.session && !!s.session.kernel &&
         s.session.kernel.connectionStatus === 'connected' && s.kernelDisplayStatus === 'idle';
}""" % PANEL_JS


def open_app(page, lab: Lab) -> None:
    page.goto(lab.url("lab?reset"), wait_until="domcontentloaded", timeout=B.PAGE_LOAD_TIMEOUT_MS)
    B.wait_for(page, "() => !!(window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.commands"
                     " && window.jupyterapp.commands.hasCommand('docmanager:open'))",
               None, "JupyterLab did not start in the page", B.PAGE_LOAD_TIMEOUT_MS, 250)


def open_and_run(page, name: str, timeout_s: float) -> float:
    """Open ``name`` (a path relative to the lab's root) from the running app, run all its cells and
    wait for an idle kernel. Returns the seconds taken."""
    t0 = time.monotonic()
    page.evaluate("(path) => { window.jupyterapp.commands.execute('docmanager:open', {path}); }", name)
    B.wait_for(page, READY_JS, name, f"JupyterLab did not open {name} with an idle kernel",
               B.PAGE_LOAD_TIMEOUT_MS, 250)
    page.evaluate(
        """(name) => {
          const w = (%s)(name);
          window.jupyterapp.shell.activateById(w.id);
          window.__rwRunAll = 'running';
          window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            (r) => { window.__rwRunAll = 'done:' + r; }, (e) => { window.__rwRunAll = 'error:' + e; });
        }""" % PANEL_JS, name)
    B.wait_for(page, """(name) => window.__rwRunAll !== 'running' &&
                        (%s)(name).sessionContext.kernelDisplayStatus === 'idle'""" % PANEL_JS,
               name, f"run-all-cells of {name} did not finish", timeout_s * 1000, 250)
    result = page.evaluate("() => window.__rwRunAll")
    if result != "done:true":
        errors = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                 '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
                 .map(e => e.innerText).join('\\n---\\n').slice(0, 4000)""")
        raise AssertionError(f"run-all-cells of {name} ended with {result!r}:\n{errors}")
    broken = B.broken_texts(page)
    if broken:
        raise AssertionError(f"{name} shows {broken}")
    return time.monotonic() - t0


def save_with_keyboard(page, name: str) -> None:
    """Ctrl+S in the notebook, as a person saves; waits until the document is clean on disk."""
    page.evaluate("(name) => window.jupyterapp.shell.activateById((%s)(name).id)" % PANEL_JS, name)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")  # command mode: the shortcut goes to the notebook, not a cell editor
    page.keyboard.press("Control+s")
    B.wait_for(page, "(name) => !(%s)(name).context.model.dirty" % PANEL_JS,
               name, f"Ctrl+S did not save {name}", B.REDRAW_TIMEOUT_MS, 250)


def close_current(page, name: str) -> None:
    """Close the notebook's tab (saved first, so no dialog asks)."""
    page.evaluate("(name) => { (%s)(name).close(); }" % PANEL_JS, name)
    B.wait_for(page, """(name) => !Array.from(window.jupyterapp.shell.widgets('main'))
                          .some(w => w.context && w.context.path.endsWith(name))""",
               name, f"the tab of {name} did not close", B.REDRAW_TIMEOUT_MS, 250)


def wait_kernels(lab: Lab, count: int, timeout_s: float) -> int:
    """Wait until the server has at most ``count`` kernels and no kernel process more; returns the count."""
    deadline = time.monotonic() + timeout_s
    n = len(lab.kernels())
    while time.monotonic() < deadline:
        n = len(lab.kernels())
        kernel_procs = [p for p in lab.processes()[1:] if _is_kernel(p)]
        if n <= count and len(kernel_procs) <= count:
            return n
        time.sleep(0.5)
    return n


def kernel_children(lab: Lab) -> dict[str, list[str]]:
    """{kernel pid and command: the command lines of the processes it started}."""
    out = {}
    for p in lab.processes()[1:]:
        if _is_kernel(p):
            with contextlib.suppress(psutil.Error):
                out[f"{p.pid} {' '.join(p.cmdline())[:80]}"] = [
                    " ".join(c.cmdline())[:160] for c in p.children(recursive=True)]
    return out


def _is_kernel(p: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "ipykernel" in " ".join(p.cmdline())
    return False


# The flow of test_workshop: (notebook, seconds allowed for run-all at RASHOMON_SMALL=1, close after).
FLOW = (("00_quickstart.ipynb", 240, True),
        ("01_rashomon_manifold_mode_connectivity.ipynb", 300, True),
        ("03_broad_basins_xor.ipynb", 300, False))


def student_flow(page, lab: Lab, sampler: PssSampler, flow=FLOW, save: bool = True, close_last: bool = True,
                 settle_s: float = 3.0, report=print, after_run=None) -> dict:
    """Open, run all, (save,) close each notebook of ``flow`` in turn in one page, sampling memory.

    Returns {"after close <nb>": bytes once its kernel is gone, "seconds <nb>": run-all time}.
    """
    out: dict = {}
    sampler.mark("app")
    open_app(page, lab)
    for i, (name, timeout_s, close) in enumerate(flow):
        sampler.mark(f"run {name}")
        out[f"seconds {name}"] = open_and_run(page, name, timeout_s)
        if save:
            save_with_keyboard(page, name)
        if after_run is not None:
            after_run(name)
        out[f"kernels with {name}"] = len(lab.kernels())
        report(f"{name}: ran in {out[f'seconds {name}']:.0f} s; peak {sampler.peak(f'run {name}') / GB:.2f} GB; "
               f"kernels {out[f'kernels with {name}']}")
        if close or (close_last and i == len(flow) - 1):
            sampler.mark(f"closed {name}")
            before = len(lab.kernels())
            close_current(page, name)
            wait_kernels(lab, before - 1, 30)
            time.sleep(settle_s)
            out[f"after close {name}"] = sampler.now()
            out[f"kernels after close {name}"] = len(lab.kernels())
            report(f"  closed: {out[f'after close {name}'] / GB:.2f} GB, kernels {out[f'kernels after close {name}']}")
    out["peak"] = sampler.peak()
    return out


def _main(argv: list[str]) -> int:
    """Run the flow once: in a fresh clone with `make lab`, or (--old) as `make lab` did before."""
    import tempfile

    from playwright.sync_api import sync_playwright
    old = "--old" in argv
    with tempfile.TemporaryDirectory(prefix="rw-workshop-") as tmp:
        tmp = Path(tmp)
        tree = clone_working_tree(tmp / "clone")
        port = B.free_port()
        if old:  # the Makefile's `lab` before jupyter-config/ (no culling, kernels kept, the news pop-up)
            cmd = [str(VENV / "bin" / "jupyter"), "lab", "--ip=127.0.0.1", "--no-browser",
                   "--notebook-dir=notebooks", "--allow-root", f"--port={port}", "--ServerApp.port_retries=0",
                   "--LabApp.expose_app_in_browser=True"]
        else:
            cmd = make_lab_command(tree, port)
        lab = Lab(cmd, tree, tmp / "jupyter").start()
        try:
            with sync_playwright() as p, PssSampler(lab) as sampler:
                browser = B.launch_chromium(p)
                ctx, page, _log = B.new_page(browser)
                # --old: as before, the lab saves into notebooks/; close without a dialog all the same
                try:
                    result = student_flow(page, lab, sampler, save=True)
                except BaseException:
                    page.screenshot(path=str(Path(tempfile.gettempdir()) / "rw-workshop-failure.png"))
                    raise
                ctx.close()
                browser.close()
            for label, (peak, n) in sampler.by_label().items():
                print(f"{label:>55}: peak {peak / GB:.2f} GB, {n} processes")
            print(f"peak {result['peak'] / GB:.2f} GB ({'old' if old else 'make lab'}, "
                  f"RASHOMON_SMALL={os.environ.get('RASHOMON_SMALL', '')})")
            print("git status --porcelain:\n" + porcelain(tree))
        finally:
            lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
