"""Sweeps run headless: importing the experiments loads no widget library."""
import subprocess
import sys


def test_experiments_load_no_widget_library():
    code = "import sys, rashomon_widgets.experiments; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert "rashomon_widgets.experiments.sweep" in loaded
    assert not loaded & {"ipywidgets", "bqplot", "ipyvolume", "traitlets", "matplotlib"}
