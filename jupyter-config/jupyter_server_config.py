"""Jupyter server settings for a workshop, shipped with the project.

`make lab` and Binder (binder/start) put this folder on JUPYTER_CONFIG_PATH, so JupyterLab (and Voila
served by it under /voila) read this file; a standalone `voila` reads voila.json next to it. A
teacher's own ~/.jupyter settings still win over these.

Memory: Binder gives server and kernels 2 GiB together, and one tutorial kernel peaks near 1 GB. So
- closing a notebook's tab shuts its kernel down (lab/settings/overrides.json: "kernelShutdown");
- a kernel nobody is connected to any more (the browser tab or window closed, the laptop gone) is shut
  down after 10 idle minutes. A kernel with an open notebook or Voila page is never culled, however
  long the student thinks, and neither is a busy one (a long computation still finishes);
- no news pop-up and no update check (they cover the lower right of the page and reach the internet).
"""
from pathlib import Path

c = get_config()  # noqa: F821 -- get_config is defined by traitlets when it loads this file

# No deprecated setting, and no deprecation warning at start-up (tests/browser/test_workshop.py starts
# `make lab` and fails on "deprecated" in its output). The token is IdentityProvider.token's generated
# default; nothing sets ServerApp.token. Yet every start used to print "ServerApp.token config is deprecated
# in jupyter-server 2.0. Use IdentityProvider.token": the server extension of notebook_shim reads every
# attribute of the ServerApp (inspect.getmembers) to proxy the classic Notebook's settings, and reading the
# deprecated trait warns. That extension only serves the classic Notebook (nbclassic and its nbextensions);
# JupyterLab 4 and Voila do not use it (JupyterLab keeps reading NotebookApp.* settings through its own
# mixin), so it is switched off. The other server extensions are still found in jupyter_server_config.d.
c.ServerApp.jpserver_extensions = {"notebook_shim": False}

# overrides.json (default settings of JupyterLab's plugins) lives next to this file; JupyterLab reads
# it from its "app settings" folder, which has nothing else in it in a pip-installed JupyterLab.
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab" / "settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

c.MappingKernelManager.cull_idle_timeout = 600   # seconds idle and without a connection
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = False    # an open tab keeps its kernel
c.MappingKernelManager.cull_busy = False         # a running cell keeps its kernel
