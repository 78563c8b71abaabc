"""Markers of the figure tests."""


def pytest_configure(config):
    config.addinivalue_line("markers", "figures_03_04: the figure-readability tests of notebooks 03 and 04 "
                                       "(issue 24: fixed by the work on those notebooks)")
