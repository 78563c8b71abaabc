"""The real-browser suite and its harness (_browser.py), a package so that its modules import each other
relatively and benchmarks/browser_latency.py imports the harness as ``tests.browser._browser``, without path hacks.

tests/ itself stays a plain folder: the unit tests import ``conftest`` and ``local_files`` from it by their bare
names (pytest puts tests/ on sys.path because it has no __init__.py). So pytest imports this package as
``browser`` (its modules as ``browser.test_refusals``, ...), ``python -m`` from the repository root as
``tests.browser``; the modules here use relative imports, which work under both names.
"""
