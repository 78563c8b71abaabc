"""The real-browser suite and its harness (_browser.py): ``tests.browser``, imported by its package name both
by pytest (tests/ is a package) and by ``python -m benchmarks.browser_latency`` from the repository root."""
