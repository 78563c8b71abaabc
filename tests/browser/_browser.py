"""Helpers shared by the real-browser suite (tests/browser) and benchmarks/browser_latency.py.

Nothing here is a test. It starts Voila / JupyterLab servers in the current interpreter's environment
(so notebooks run in this venv's kernel), launches Debian's Chromium through Playwright, opens a
notebook in either front end and drives the widgets the way a person would (keyboard on a slider,
typing into a number box).

DOM facts this relies on (ipywidgets 8.1, bqplot 0.13, ipyvolume 0.6, JupyterLab 4.6, Voila 0.5):
- ``widget.add_class("x")`` puts class ``x`` on the widget's root element in both front ends.
- A FloatSlider is a noUiSlider: the focusable element is ``.noUi-handle`` (tabindex 0, with
  ``aria-valuenow`` / ``aria-valuemin`` / ``aria-valuemax``); ArrowRight / ArrowLeft move it one step.
- A FloatText's ``<input type=number>`` syncs its value on Enter (or blur), not on every keystroke; so does
  the explorers' number box (a Text, ``<input type=text>``, with ``continuous_update=False``), which sends
  whatever was typed ("NaN" too) for the kernel to read.
- An ipyvolume Figure draws into a ``<canvas>`` inside its element through WebGL; an init script
  (``GL_PROBE_JS``) records every WebGL context created and every draw call, so a test can tell that
  a context really exists and that the figure drew.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("RW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_MISSING = (f"Chromium not found at {CHROMIUM}: run `make chromium` "
                    "(apt-get install -y chromium) or set RW_CHROMIUM to a Chromium binary.")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # WebGL (ipyvolume) through software rendering: explicit, so a Chromium that stops the automatic
    # fallback to SwiftShader still gives a context.
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]

# Generous: a loaded 2-core machine runs the notebook, the server and software WebGL at once.
SERVER_START_TIMEOUT_S = 90
PAGE_LOAD_TIMEOUT_MS = 90_000
REDRAW_TIMEOUT_MS = 30_000

# The DOM contract of the explorer widgets (see notebooks/00_quickstart.ipynb). A notebook's spec is
# DEFAULT_SPEC updated with its own entries; a key set to None is not checked for that notebook.
DEFAULT_SPEC = {
    "root": ".rw-explorer",        # the explorer; every other selector is looked up inside its first match
    "slider": ".rw-slider",        # ipywidgets FloatSlider moved with the keyboard
    "surface2d": ".rw-surface2d",  # bqplot Figure with a HeatMap: must redraw when the slider moves
    "heatmap": "image.heatmap",    # the heatmap mark inside surface2d (bqplot HeatMap: an SVG image)
    "surface3d": ".rw-surface3d",  # ipyvolume Figure: a WebGL canvas that must redraw
    "spectrum": ".rw-spectrum",    # bqplot Figure: must render with a non-zero size
    "loss": ".rw-loss",            # HTML readout whose text changes with the slider
    "error": ".rw-error",          # HTML where input errors are shown
    "span": ".rw-span",            # number box; `bad_span` typed into it must produce text in `error`
    "reset": ".rw-reset",          # Button: must exist
    "status": ".rw-status",        # status / progress HTML: must exist
    "bad_span": "-1",
    "error_text": None,            # optional substring (case-insensitive) the error message must contain
    "expect_text": {},             # optional {selector: substring} checked once the page has rendered
    "load_timeout_s": PAGE_LOAD_TIMEOUT_MS / 1000,  # page load + running the cells + drawing
}

SIZED_KEYS = ("root", "surface2d", "surface3d", "spectrum")
PRESENT_KEYS = ("slider", "loss", "error", "span", "reset", "status")

# Text that must appear nowhere on a page: broken widget views, and cell errors (Voila shows those
# with --VoilaConfiguration.show_tracebacks=True).
BROKEN_TEXTS = ("Error displaying widget", "Failed to load model class", "Could not create a view",
                "Could not create a model", "Model not found", "Traceback (most recent call last)",
                "There was an error when executing cell", "Cell execution timed out")

# Console noise that is not a widget error, each with the reason it is harmless. Widget errors still
# show as broken views (BROKEN_TEXTS), as uncaught page errors or as kernel errors, all checked.
BENIGN_CONSOLE = [
    # Chromium asks for /favicon.ico; Voila serves none.
    re.compile(r"favicon\.ico"),
    # Webpack module federation reports that an extension was built against other versions of a shared
    # package (e.g. "Unsatisfied version 6.0.12 of shared singleton module @jupyter-widgets/base");
    # the loaded singleton is used anyway.
    re.compile(r"^(Unsatisfied version .* of shared singleton module|No satisfying version .* of shared module)", re.S),
]


def is_benign(typ: str, text: str, url: str) -> bool:
    if any(p.search(text) or p.search(url) for p in BENIGN_CONSOLE):
        return True
    # A resource on another host (ipyvolume's Font Awesome CSS from cdn.jsdelivr.net) cannot load on
    # an offline machine; everything the widgets need comes from the local server.
    if text.startswith("Failed to load resource: net::") and url and not url.startswith("http://127.0.0.1"):
        return True
    return False


WIDGET_ERROR_RE = re.compile(r"widget|model|error|exception|uncaught|failed", re.I)

# Records WebGL contexts and draw calls. Draw timestamps are performance.now() values.
GL_PROBE_JS = r"""
(() => {
  if (window.__rwGL) return;
  const gl = window.__rwGL = {contexts: 0, draws: 0, lastDraw: -1, drawTimes: []};
  const orig = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const ctx = orig.call(this, type, ...rest);
    if (ctx && /webgl/i.test(String(type)) && !this.__rwGLType) {
      this.__rwGLType = String(type);
      gl.contexts += 1;
    }
    return ctx;
  };
  const wrap = (proto, name) => {
    if (!proto || !proto[name]) return;
    const f = proto[name];
    proto[name] = function (...args) {
      const t = performance.now();
      gl.draws += 1;
      if (t !== gl.lastDraw) { gl.lastDraw = t; if (gl.drawTimes.length < 10000) gl.drawTimes.push(t); }
      return f.apply(this, args);
    };
  };
  for (const P of [window.WebGLRenderingContext, window.WebGL2RenderingContext]) {
    if (!P) continue;
    for (const n of ['drawArrays', 'drawElements', 'drawArraysInstanced', 'drawElementsInstanced']) wrap(P.prototype, n);
  }
})();
"""


def spec_for(**overrides) -> dict:
    unknown = set(overrides) - set(DEFAULT_SPEC)
    if unknown:
        raise KeyError(f"unknown spec keys: {sorted(unknown)}")
    spec = dict(DEFAULT_SPEC)
    spec.update(overrides)
    return spec


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------

def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def jupyter_env(workdir: Path, theme: str = "light") -> dict:
    """Environment for a server: fresh Jupyter/JupyterLab config, data, runtime and settings folders.

    JUPYTER_DATA_DIR is fresh too, so no user-level ``python3`` kernelspec can shadow the one of this
    interpreter's environment: the kernel is this venv's Python (jupyter_client also replaces a
    kernelspec's ``python`` by the server's ``sys.executable``).
    """
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": workdir / "config",
        "JUPYTER_DATA_DIR": workdir / "data",
        "JUPYTER_RUNTIME_DIR": workdir / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": workdir / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": workdir / "lab-workspaces",
        "IPYTHONDIR": workdir / "ipython",
    }
    for key, d in dirs.items():
        d.mkdir(parents=True, exist_ok=True)
        env[key] = str(d)
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab"
    # No news / update pop-up over the page.
    _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    # Never write outputs back into the repository's notebooks.
    _write_json(settings / "docmanager-extension" / "plugin.jupyterlab-settings", {"autosave": False})
    # Every cell attached and laid out (the default "contentVisibility" skips off-screen cells), and
    # no kernel-selection dialog.
    _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none", "autoStartDefaultKernel": True})
    # JupyterLab's theme is a user setting of @jupyterlab/apputils-extension:themes ("JupyterLab Light"
    # is the default); the same JSON in <sys.prefix>/share/jupyter/lab/settings/overrides.json would
    # set it for every user.
    if theme == "dark":
        _write_json(settings / "apputils-extension" / "themes.jupyterlab-settings", {"theme": LAB_DARK_THEME})
    return env


LAB_DARK_THEME = "JupyterLab Dark"


class Server:
    """A Voila or JupyterLab server on 127.0.0.1, serving the repository root.

    ``theme="dark"``: JupyterLab opens in "JupyterLab Dark" (a user setting written by jupyter_env);
    Voila renders with ``--theme=dark`` (a page can also ask for it with ``?theme=dark``).
    """

    def __init__(self, kind: str, workdir: Path, root: Path = REPO, cull_idle_s: int = 60, theme: str = "light"):
        if kind not in ("voila", "lab"):
            raise ValueError(kind)
        if theme not in ("light", "dark"):
            raise ValueError(theme)
        self.kind, self.workdir, self.root, self.cull_idle_s = kind, Path(workdir), Path(root), cull_idle_s
        self.theme = theme
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = self.workdir / f"{kind}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self, port: int) -> list[str]:
        common = [
            f"--MappingKernelManager.cull_idle_timeout={self.cull_idle_s}",
            "--MappingKernelManager.cull_interval=15",
        ]
        if self.kind == "voila":
            return [sys.executable, "-m", "voila", str(self.root), "--no-browser", f"--port={port}",
                    "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--Voila.token=",
                    "--VoilaConfiguration.show_tracebacks=True", f"--theme={self.theme}", *common]
        return [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
                "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
                "--IdentityProvider.token=", "--ServerApp.password=",
                f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.expose_app_in_browser=True",
                # JupyterLab checkpoints a notebook when it opens: keep them out of the repository
                # (an absolute checkpoint_dir replaces <notebook folder>/.ipynb_checkpoints).
                f"--FileCheckpoints.checkpoint_dir={self.workdir / 'checkpoints'}", *common]

    def start(self, timeout_s: float = SERVER_START_TIMEOUT_S) -> "Server":
        env = jupyter_env(self.workdir, self.theme)
        last = ""
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(self._command(self.port), cwd=self.root, env=env,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            finally:
                log.close()
            ok, last = self._wait_ready(timeout_s)
            if ok:
                return self
            self.stop()
            if "address already in use" not in self.log_tail().lower():
                break
        raise RuntimeError(f"{self.kind} server did not become ready ({last}).\n"
                           f"--- {self.log_path} ---\n{self.log_tail()}")

    def _wait_ready(self, timeout_s: float) -> tuple[bool, str]:
        url = self.base + ("/api/status" if self.kind == "lab" else "/")
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"exited with {self.proc.returncode}"
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return True, "ok"
                    last = f"HTTP {r.status}"
            except (urllib.error.URLError, OSError) as e:
                last = repr(e)
            time.sleep(0.25)
        return False, f"timed out after {timeout_s:.0f} s: {last}"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 20) -> None:
        """Stop the server and every process it started (kernels included)."""
        if self.proc is None:
            return
        try:
            import psutil
            try:
                children = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
        except ImportError:  # psutil is in requirements.lock (jupyter-server); be safe anyway
            psutil, children = None, []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # jupyter_server shuts its kernels down on SIGTERM
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for child in children:  # kernels live in their own sessions: end each one by pid
            with contextlib.suppress(Exception):
                if child.is_running():
                    child.kill()
        if psutil is not None and children:
            psutil.wait_procs(children, timeout=10)
        self.proc = None

    def url(self, notebook: str | Path) -> str:
        rel = Path(notebook)
        if rel.is_absolute():
            rel = rel.relative_to(self.root)
        path = quote(rel.as_posix())
        if self.kind == "voila":
            return f"{self.base}/voila/render/{path}"
        return f"{self.base}/lab/tree/{path}?reset"  # ?reset: do not restore earlier tabs


# ---------------------------------------------------------------------------------------------------
# Browser
# ---------------------------------------------------------------------------------------------------

def launch_chromium(playwright):
    """Debian's Chromium, headless, on a fresh temporary profile (Playwright's launch() makes one)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(CHROMIUM_MISSING)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                      timeout=PAGE_LOAD_TIMEOUT_MS)


def new_page(browser, viewport=(1400, 1000)):
    """A page in its own context (own cookies and storage), with the WebGL probe and a console log.

    Returns (context, page, PageLog); close the context when done.
    """
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    ctx.add_init_script(GL_PROBE_JS)
    ctx.set_default_timeout(REDRAW_TIMEOUT_MS)
    ctx.set_default_navigation_timeout(PAGE_LOAD_TIMEOUT_MS)
    page = ctx.new_page()
    return ctx, page, PageLog(page)


class PageLog:
    """Console messages and uncaught page errors of one page."""

    def __init__(self, page):
        self.messages: list[tuple[str, str, str]] = []  # (type, text, location url)
        self.page_errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self.page_errors.append(f"{err.name}: {err.message}"))

    def _on_console(self, msg):
        try:
            loc = msg.location.get("url", "") if msg.location else ""
        except Exception:  # a closed page
            loc = ""
        self.messages.append((msg.type, msg.text, loc))

    def widget_errors(self) -> list[str]:
        """Uncaught errors, and console errors / warnings that mention widgets, models or errors."""
        bad = [f"pageerror: {e}" for e in self.page_errors]
        for typ, text, loc in self.messages:
            if typ not in ("error", "warning", "assert"):
                continue
            if is_benign(typ, text, loc):
                continue
            if typ == "error" or WIDGET_ERROR_RE.search(text):
                bad.append(f"console.{typ}: {text}" + (f" ({loc})" if loc else ""))
        return bad

    def dump(self) -> str:
        lines = [f"[{t}] {x}" + (f" ({u})" if u else "") for t, x, u in self.messages]
        lines += [f"[pageerror] {e}" for e in self.page_errors]
        return "\n".join(lines)


def open_voila(page, server: Server, notebook, spec: dict) -> float:
    """Open a notebook in Voila and wait until its widgets are drawn. Returns seconds taken."""
    t0 = time.monotonic()
    timeout_ms = spec.get("load_timeout_s", PAGE_LOAD_TIMEOUT_MS / 1000) * 1000
    # Voila streams the page while the kernel runs the cells: "load" fires after the last cell.
    page.goto(server.url(notebook), wait_until="load", timeout=timeout_ms)
    wait_widgets_drawn(page, spec, max(timeout_ms - (time.monotonic() - t0) * 1000, REDRAW_TIMEOUT_MS))
    if not install_kernel_error_probe(page, "voila"):
        raise AssertionError("no kernel connection found on the Voila page (window.jupyterapp._widgetManager._kernel)")
    return time.monotonic() - t0


def open_lab(page, server: Server, notebook, spec: dict) -> float:
    """Open a notebook in JupyterLab, run all cells, wait for the kernel idle and the widgets drawn."""
    t0 = time.monotonic()
    timeout_ms = spec.get("load_timeout_s", PAGE_LOAD_TIMEOUT_MS / 1000) * 1000
    page.goto(server.url(notebook), wait_until="domcontentloaded", timeout=PAGE_LOAD_TIMEOUT_MS)
    name = Path(notebook).name
    # The notebook panel exists, its document and kernel session are ready, and the kernel is idle.
    wait_for(
        page,
        """(name) => {
          const app = window.jupyterapp;
          if (!app || !app.shell) return false;
          const w = app.shell.currentWidget;
          if (!w || !w.sessionContext || !w.context || !w.context.isReady) return false;
          if (!w.context.path.endsWith(name)) return false;
          const s = w.sessionContext;
          return s.isReady && !!s.session && !!s.session.kernel &&
                 s.session.kernel.connectionStatus === 'connected' && s.kernelDisplayStatus === 'idle';
        }""", name, f"JupyterLab did not open {name} with an idle kernel", PAGE_LOAD_TIMEOUT_MS, 250)
    if not install_kernel_error_probe(page, "lab"):
        raise AssertionError("no kernel connection on the JupyterLab notebook panel")
    page.evaluate(
        """() => {
          window.__rwRunAll = 'running';
          window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            (r) => { window.__rwRunAll = 'done:' + r; },
            (e) => { window.__rwRunAll = 'error:' + e; });
        }""")
    wait_for(
        page,
        """() => {
          if (window.__rwRunAll === 'running') return false;
          const w = window.jupyterapp.shell.currentWidget;
          return w.sessionContext.kernelDisplayStatus === 'idle';
        }""", None, "run-all-cells did not finish with an idle kernel", timeout_ms, 250)
    result = page.evaluate("() => window.__rwRunAll")
    if result != "done:true":
        errors = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                 '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
                 .map(e => e.innerText).join('\\n---\\n').slice(0, 4000)""")
        raise AssertionError(f"run-all-cells in JupyterLab ended with {result!r}:\n{errors}")
    wait_widgets_drawn(page, spec, timeout_ms)
    return time.monotonic() - t0


def open_notebook(page, server: Server, notebook, spec: dict) -> float:
    return (open_voila if server.kind == "voila" else open_lab)(page, server, notebook, spec)


def scoped(page, spec: dict, key: str):
    """Locator for spec[key] inside the first match of spec['root'] (or the page)."""
    root = page.locator(spec["root"]).first if spec.get("root") else page
    if key == "root":
        return root
    return root.locator(spec[key]).first


def wait_widgets_drawn(page, spec: dict, timeout_ms: int = PAGE_LOAD_TIMEOUT_MS, polling=200) -> float:
    """Every sized view has a non-zero box; 3-D views have a WebGL canvas that has drawn.

    Fails at once, with the page's text, when a broken widget or a cell error shows up instead.
    Returns the page's performance.now() (ms since navigation start) when the condition held.
    """
    sized = [spec[k] for k in SIZED_KEYS if k != "root" and spec.get(k)]
    gl = [spec["surface3d"]] if spec.get("surface3d") else []
    try:
        handle = _wait_drawn(page, spec, sized, gl, timeout_ms, polling)
    except PlaywrightTimeout:
        raise AssertionError(f"widgets not drawn within {timeout_ms / 1000:.0f} s: "
                             f"{drawn_state(page, spec, sized, gl)}") from None
    result = handle.json_value()
    if result["broken"]:
        text = page.evaluate("() => document.body.innerText")
        if len(text) > 5000:
            text = text[:2000] + "\n[...]\n" + text[-3000:]
        raise AssertionError(f"the page shows {result['broken']} instead of the widgets:\n{text}")
    return result["t"]


def drawn_state(page, spec: dict, sized: list, gl: list) -> dict:
    """What is there and what is missing, for a message when the widgets do not draw."""
    return page.evaluate(
        """([root, sized, gl]) => {
          const r = root ? document.querySelector(root) : document.body;
          const size = (e) => { if (!e) return 'missing'; const b = e.getBoundingClientRect(); return `${b.width}x${b.height}`; };
          const out = {root: size(r), gl: window.__rwGL ? {contexts: window.__rwGL.contexts, draws: window.__rwGL.draws} : 'no probe'};
          for (const s of sized) out[s] = r ? size(r.querySelector(s)) : 'no root';
          for (const s of gl) out[s + ' canvases'] = r ? Array.from(r.querySelectorAll(s + ' canvas')).map(c => (c.__rwGLType || 'no WebGL context') + ' ' + size(c)) : 'no root';
          return out;
        }""", [spec.get("root"), sized, gl])


def _wait_drawn(page, spec, sized, gl, timeout_ms, polling):
    return page.wait_for_function(
        """([root, sized, gl, brokenTexts]) => {
          const text = document.body ? document.body.innerText.toLowerCase() : '';
          const broken = brokenTexts.filter(t => text.includes(t.toLowerCase()));
          if (broken.length) return {broken, t: performance.now()};
          const r = root ? document.querySelector(root) : document.body;
          if (!r) return false;
          const big = (e) => { if (!e) return false; const b = e.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
          if (!big(r)) return false;
          for (const s of sized) if (!big(r.querySelector(s))) return false;
          for (const s of gl) {
            const c = Array.from(r.querySelectorAll(s + ' canvas')).find(c => c.__rwGLType && big(c));
            if (!c) return false;
            if (!window.__rwGL || window.__rwGL.draws === 0) return false;
          }
          return {broken: [], t: performance.now()};
        }""", arg=[spec.get("root"), sized, gl, list(BROKEN_TEXTS)], timeout=timeout_ms, polling=polling)


def broken_texts(page) -> list[str]:
    text = page.evaluate("() => document.body.innerText")
    return [t for t in BROKEN_TEXTS if t.lower() in text.lower()]


# The page's kernel connection: Voila's widget manager holds it; in JupyterLab the current notebook's
# session does. Its iopubMessage signal sees every message the kernel publishes, including the
# "error" a widget callback raises (ipywidgets shows the traceback there; no cell displays it).
_KERNEL_JS = {
    "voila": "(() => { const a = window.jupyterapp; const m = a && a._widgetManager; return m && m._kernel; })()",
    "lab": "(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
           " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; })()",
}


def install_kernel_error_probe(page, kind: str) -> bool:
    """Record the kernel's iopub "error" messages in window.__rwKernelErrors. False if no kernel."""
    return page.evaluate(
        """() => {
          window.__rwKernelErrors = window.__rwKernelErrors || [];
          const k = %s;
          if (!k || !k.iopubMessage) return false;
          if (!k.__rwProbe) {
            k.__rwProbe = true;
            k.iopubMessage.connect((_, msg) => {
              if (msg.header.msg_type === 'error')
                window.__rwKernelErrors.push(msg.content.ename + ': ' + msg.content.evalue);
            });
          }
          return true;
        }""" % _KERNEL_JS[kind])


def kernel_errors(page) -> list[str] | None:
    return page.evaluate("() => window.__rwKernelErrors === undefined ? null : window.__rwKernelErrors")


def shutdown_lab_kernel(page) -> None:
    """Shut the current JupyterLab notebook's kernel down (closing the page would leave it running)."""
    page.evaluate(
        """async () => {
          const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
          if (w && w.sessionContext) await w.sessionContext.shutdown();
        }""")


def webgl_canvases(page, selector: str) -> list[dict]:
    """WebGL canvases inside `selector`: their context type and size."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel + ' canvas')).map(c => {
             const b = c.getBoundingClientRect();
             return {type: c.__rwGLType || null, width: b.width, height: b.height,
                     lost: c.__rwGLType ? c.getContext(c.__rwGLType).isContextLost() : null};
           })""", selector)


def stable_screenshot(locator, timeout_ms: int = REDRAW_TIMEOUT_MS) -> bytes:
    """A screenshot of the element once two consecutive shots agree (no drawing in progress)."""
    deadline = time.monotonic() + timeout_ms / 1000
    prev = locator.screenshot(animations="disabled", caret="hide")
    while time.monotonic() < deadline:
        cur = locator.screenshot(animations="disabled", caret="hide")
        if cur == prev:
            return cur
        prev = cur
    return prev


def wait_screenshot_changes(locator, before: bytes, what: str = "view",
                            timeout_ms: int = REDRAW_TIMEOUT_MS) -> bytes:
    """Take screenshots of the element until one differs from `before`; fail after the timeout."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        cur = locator.screenshot(animations="disabled", caret="hide")
        if cur != before:
            return cur
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not redraw within {timeout_ms / 1000:.0f} s")


def text_of(locator) -> str:
    return locator.evaluate("(e) => e.textContent")


def wait_for(page, js: str, arg, message: str, timeout_ms: int = REDRAW_TIMEOUT_MS, polling="raf"):
    """page.wait_for_function that fails with `message` (an AssertionError) instead of a bare timeout."""
    try:
        return page.wait_for_function(js, arg=arg, timeout=timeout_ms, polling=polling)
    except PlaywrightTimeout:
        raise AssertionError(f"{message} (waited {timeout_ms / 1000:.0f} s)") from None


def wait_text_changes(page, locator, before: str, what: str = "text",
                      timeout_ms: int = REDRAW_TIMEOUT_MS) -> str:
    wait_for(page, "([e, before]) => e.textContent !== before", [locator.element_handle(), before],
             f"{what} kept its text {before!r}", timeout_ms)
    return text_of(locator)


def slider_handle(page, spec: dict):
    return scoped(page, spec, "slider").locator(".noUi-handle").first


def slider_key(handle) -> str:
    """The arrow key that moves this noUiSlider handle away from the end it sits at."""
    now = float(handle.get_attribute("aria-valuenow"))
    hi = float(handle.get_attribute("aria-valuemax"))
    return "ArrowRight" if now < hi else "ArrowLeft"


def press_slider(page, spec: dict) -> str:
    """Focus the first slider's handle and press an arrow key once. Returns the new aria-valuenow."""
    handle = slider_handle(page, spec)
    handle.scroll_into_view_if_needed()
    readout = scoped(page, spec, "slider").locator(".widget-readout").first
    # noUiSlider may round aria-valuenow (0.04 shows as "0.0"), so watch the widget's readout too
    state = "([h, r]) => h.getAttribute('aria-valuenow') + '|' + (r ? (r.value || r.textContent) : '')"
    before = page.evaluate(state, [handle.element_handle(), readout.element_handle()])
    key = slider_key(handle)
    handle.focus()
    handle.press(key)
    wait_for(page, f"([h, r, b]) => ({state})([h, r]) !== b",
             [handle.element_handle(), readout.element_handle(), before],
             f"pressing {key} on the focused slider handle did not move it from {before}")
    return handle.get_attribute("aria-valuenow")


def type_into_span(page, spec: dict, value: str) -> None:
    box = scoped(page, spec, "span").locator("input").first
    box.fill(value)
    box.press("Enter")


def gl_stats(page) -> dict:
    return page.evaluate("() => window.__rwGL ? {contexts: window.__rwGL.contexts, draws: window.__rwGL.draws} : null")


# ---------------------------------------------------------------------------------------------------
# Layout (views of every explorer: overlap, cut off, clipped text)
# ---------------------------------------------------------------------------------------------------

# The explorers tag each panel (controls, 2-D slice, 3-D view, spectrum, along-curve profile, pruning
# trade-off and similarity) with VIEW_CLASS: the layout check measures those.
VIEW_CLASS = ".rw-view"
OVERLAP_TOLERANCE_PX2 = 4.0   # intersection area above this is an overlap
EDGE_TOLERANCE_PX = 1.0       # sub-pixel rounding of borders

# For every explorer on the page: its views (VIEW_CLASS), their boxes, the pairs that overlap, the views cut off (right edge past the viewport, or past the visible box
# of an ancestor that clips or scrolls horizontally; an ancestor with overflow hidden/clip below the
# nearest vertical scroller clips vertically), and bqplot titles / axis labels that leave their svg.
LAYOUT_JS = r"""
([explorerSel, viewSel, tol, edge]) => {
  const vw = document.documentElement.clientWidth;
  const box = (e) => { const b = e.getBoundingClientRect(); return {x: b.left, y: b.top, r: b.right, b: b.bottom, w: b.width, h: b.height}; };
  const name = (e) => {
    const cls = Array.from(e.classList).filter(c => c.startsWith('rw-')).join('.');
    const label = e.querySelector && e.querySelector('.mainheading, .widget-label, b');
    const txt = label ? label.textContent.trim().slice(0, 30) : '';
    return (cls ? '.' + cls : e.tagName.toLowerCase() + '.' + Array.from(e.classList).slice(0, 3).join('.')) + (txt ? ` "${txt}"` : '');
  };
  // the visible box of an element: its client area (no borders, no scroll bars)
  const clientBox = (e) => {
    const b = e.getBoundingClientRect();
    const x = b.left + e.clientLeft, y = b.top + e.clientTop;
    return {x, y, r: x + e.clientWidth, b: y + e.clientHeight};
  };
  // ancestors that clip: horizontally any overflow-x but visible (a horizontal scroll bar is cut off too);
  // vertically only hidden / clip below the nearest vertical scroller (the notebook scrolls the rest)
  const clippers = (e) => {
    const out = [];
    let scrollsY = false;
    for (let a = e.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a);
      const ox = s.overflowX, oy = s.overflowY;
      const y = !scrollsY && (oy === 'hidden' || oy === 'clip');
      if (ox !== 'visible' || y) out.push({el: a, x: ox !== 'visible', y});
      if (oy === 'auto' || oy === 'scroll') scrollsY = true;
    }
    return out;
  };
  const explorers = Array.from(document.querySelectorAll(explorerSel));
  return explorers.map((ex, index) => {
    const tagged = Array.from(ex.querySelectorAll(viewSel));
    const views = tagged.filter(v => { const b = v.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
    const boxes = views.map(v => ({name: name(v), ...box(v)}));
    const overlaps = [];
    for (let i = 0; i < views.length; i++) for (let j = i + 1; j < views.length; j++) {
      if (views[i].contains(views[j]) || views[j].contains(views[i])) continue;  // a view inside a view
      const a = boxes[i], b = boxes[j];
      const w = Math.min(a.r, b.r) - Math.max(a.x, b.x), h = Math.min(a.b, b.b) - Math.max(a.y, b.y);
      if (w > 0 && h > 0 && w * h > tol)
        overlaps.push({a: a.name, b: b.name, area: Math.round(w * h), w: Math.round(w), h: Math.round(h)});
    }
    const cut = [];
    views.forEach((v, i) => {
      const b = boxes[i];
      if (b.r > vw + edge) cut.push({view: b.name, by: 'the viewport', right: Math.round(b.r), limit: vw, px: Math.round(b.r - vw)});
      for (const c of clippers(v)) {
        const cb = clientBox(c.el);
        const over = [];
        if (c.x && b.r > cb.r + edge) over.push(`right edge ${Math.round(b.r)} > ${Math.round(cb.r)} (${Math.round(b.r - cb.r)} px)`);
        if (c.x && b.x < cb.x - edge) over.push(`left edge ${Math.round(b.x)} < ${Math.round(cb.x)} (${Math.round(cb.x - b.x)} px)`);
        if (c.y && b.b > cb.b + edge) over.push(`bottom edge ${Math.round(b.b)} > ${Math.round(cb.b)} (${Math.round(b.b - cb.b)} px)`);
        if (over.length) {
          const s = getComputedStyle(c.el);
          cut.push({view: b.name, by: `${name(c.el)} (overflow ${s.overflowX}/${s.overflowY})`, px: over.join(', ')});
          break;  // the nearest clipping ancestor says it
        }
      }
    });
    const clippedText = [];
    for (const t of ex.querySelectorAll('.bqplot text.mainheading, .bqplot text.axislabel')) {
      if (!t.textContent.trim()) continue;
      let svg = t.ownerSVGElement;
      while (svg && svg.ownerSVGElement) svg = svg.ownerSVGElement;
      if (!svg) continue;
      const tb = t.getBoundingClientRect(), sb = svg.getBoundingClientRect();
      if (tb.width === 0 && tb.height === 0) continue;
      const out = [];
      if (tb.left < sb.left - edge) out.push(`left by ${Math.round(sb.left - tb.left)} px`);
      if (tb.right > sb.right + edge) out.push(`right by ${Math.round(tb.right - sb.right)} px`);
      if (tb.top < sb.top - edge) out.push(`top by ${Math.round(sb.top - tb.top)} px`);
      if (tb.bottom > sb.bottom + edge) out.push(`bottom by ${Math.round(tb.bottom - sb.bottom)} px`);
      if (out.length) {
        const fig = t.closest(viewSel) || t.closest('.bqplot');
        clippedText.push({text: t.textContent.trim().slice(0, 40), kind: t.classList.contains('mainheading') ? 'title' : 'axis label',
                          figure: fig ? name(fig) : '?', out: out.join(', ')});
      }
    }
    return {index, explorer: name(ex), numTagged: tagged.length, viewport: vw,
            views: boxes.map(b => ({name: b.name, x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.w), h: Math.round(b.h)})),
            overlaps, cut, clippedText};
  });
}
"""


def measure_layout(page, explorer: str = DEFAULT_SPEC["root"]) -> list[dict]:
    """LAYOUT_JS's report for every ``explorer`` on the page (see there)."""
    return page.evaluate(LAYOUT_JS, [explorer, VIEW_CLASS, OVERLAP_TOLERANCE_PX2, EDGE_TOLERANCE_PX])


def layout_problems(report: list[dict]) -> list[str]:
    """Readable lines for every overlap, cut-off view and clipped label of measure_layout's report."""
    lines = []
    for ex in report:
        where = f"explorer {ex['index']} {ex['explorer']}"
        for o in ex["overlaps"]:
            lines.append(f"{where}: {o['a']} and {o['b']} overlap by {o['area']} px^2 ({o['w']} x {o['h']} px)")
        for c in ex["cut"]:
            if "right" in c:  # by the viewport
                lines.append(f"{where}: {c['view']} is cut off by {c['by']} by {c['px']} px "
                             f"(right edge {c['right']} > {c['limit']})")
            else:
                lines.append(f"{where}: {c['view']} is cut off by {c['by']}: {c['px']}")
        for t in ex["clippedText"]:
            lines.append(f"{where}: the {t['kind']} {t['text']!r} of {t['figure']} leaves its svg ({t['out']})")
    return lines


def open_lab_left_panel(page) -> dict:
    """Show JupyterLab's left side panel with the file browser; returns the panel's box."""
    page.evaluate(
        """async () => {
          const app = window.jupyterapp;
          if (app.commands.hasCommand('filebrowser:activate')) await app.commands.execute('filebrowser:activate');
          else app.shell.activateById('filebrowser');
          if (app.shell.leftCollapsed) app.shell.expandLeft();
        }""")
    wait_for(page, """() => { const e = document.querySelector('#filebrowser');
                              if (!e) return false; const b = e.getBoundingClientRect(); return b.width > 50 && b.height > 50; }""",
             None, "the JupyterLab file browser did not open in the left side panel")
    return page.evaluate("() => { const b = document.querySelector('#filebrowser').getBoundingClientRect();"
                         " return {x: b.left, width: b.width}; }")


def resize(page, width: int, height: int, settle: str | None = DEFAULT_SPEC["root"],
           timeout_ms: int = REDRAW_TIMEOUT_MS) -> None:
    """Resize the page's viewport, then wait until the figures have re-rendered: two consecutive
    screenshots of every ``settle`` element agree (bqplot and ipyvolume redraw on resize)."""
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(300)  # resize observers, then the figures' own redraw timers
    if settle:
        loc = page.locator(settle)
        for i in range(loc.count()):
            with contextlib.suppress(Exception):
                loc.nth(i).scroll_into_view_if_needed(timeout=2000)
            stable_screenshot(loc.nth(i), timeout_ms)


def save_layout_screenshots(folder: Path, page, explorer: str = DEFAULT_SPEC["root"]) -> list[Path]:
    """The whole page (full page: Voila scrolls the document; JupyterLab scrolls inside the notebook, so
    its page shot is the viewport) and each explorer element in full, as PNG files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    loc = page.locator(explorer)
    for i in range(loc.count()):
        path = folder / f"explorer-{i}.png"
        try:
            loc.nth(i).screenshot(path=str(path), animations="disabled", caret="hide")
            saved.append(path)
        except Exception as e:  # keep what we can
            path.with_suffix(".png.error").write_text(repr(e))
    with contextlib.suppress(Exception):
        loc.first.scroll_into_view_if_needed(timeout=2000)
    path = folder / "page.png"
    try:
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        saved.append(path)
    except Exception as e:
        path.with_suffix(".png.error").write_text(repr(e))
    return saved


def brightness(png: bytes) -> dict:
    """Mean brightness (0 black .. 1 white, Rec. 601 luma) of a PNG and of its four 8x8 corners."""
    import io

    from PIL import Image, ImageStat
    img = Image.open(io.BytesIO(png)).convert("L")
    w, h = img.size
    k = max(1, min(8, w // 4, h // 4))
    corners = [img.crop(b) for b in ((0, 0, k, k), (w - k, 0, w, k), (0, h - k, k, h), (w - k, h - k, w, h))]
    return {"mean": ImageStat.Stat(img).mean[0] / 255, "size": (w, h),
            "corners": [round(ImageStat.Stat(c).mean[0] / 255, 3) for c in corners]}


def page_background(page) -> dict:
    """The theme's main background colour (JupyterLab's --jp-layout-color0, else body's) and its brightness."""
    return page.evaluate(
        """() => {
          const probe = document.createElement('div');
          probe.style.background = 'var(--jp-layout-color0, ' + getComputedStyle(document.body).backgroundColor + ')';
          document.body.appendChild(probe);
          const c = getComputedStyle(probe).backgroundColor;
          probe.remove();
          const m = c.match(/[\\d.]+/g).map(Number);
          return {color: c, brightness: (0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2]) / 255,
                  theme: document.body.dataset.jpThemeName || null, light: document.body.dataset.jpThemeLight || null};
        }""")


# Screenshots of every layout check, and the page / console / server logs of a failed case (failures/).
ARTIFACTS = Path(os.environ.get("RASHOMON_ARTIFACTS") or REPO / "tests" / "browser" / "artifacts").resolve()


def save_artifacts(name: str, page, log: PageLog, servers=()) -> None:
    out = ARTIFACTS / "failures" / re.sub(r"[^\w.-]+", "_", name)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):  # JupyterLab scrolls inside the notebook, not the page
        page.locator(DEFAULT_SPEC["root"]).first.scroll_into_view_if_needed(timeout=2000)
    try:
        page.screenshot(path=str(out / "page.png"), full_page=True)
    except Exception as e:  # keep what we can
        (out / "page.png.error").write_text(repr(e))
    (out / "console.txt").write_text(log.dump())
    for srv in servers:
        (out / f"{srv.kind}.log").write_text(srv.log_tail(400))
