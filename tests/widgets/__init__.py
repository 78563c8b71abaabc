"""Tests: a package, so that shared helpers import by package name (no module named after a folder's conftest)."""
