"""The core never loads a widget library; the top-level package loads widgets lazily."""
import subprocess
import sys

WIDGET_LIBS = ("ipywidgets", "bqplot", "ipyvolume", "traitlets")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_loads_no_widget_library():
    loaded = _loaded_after("import rashomon_widgets.core")
    assert not loaded & set(WIDGET_LIBS)


def test_top_level_import_is_widget_free():
    loaded = _loaded_after("import rashomon_widgets, rashomon_widgets.models, rashomon_widgets.data")
    assert "torch" in loaded
    assert not loaded & set(WIDGET_LIBS)


def test_dir_of_the_package_lists_its_public_names_only():
    code = ("import rashomon_widgets as rw; names = dir(rw); print(' '.join(names)); "
            "[getattr(rw, n) for n in names]")  # every listed name resolves (the lazy widget classes included)
    names = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    import rashomon_widgets as rw

    assert names == sorted({*rw.__all__, "__version__", "load_ipython_extension"})
    assert not {"importlib", "annotations", "_LAZY"} & set(names)
    assert len(rw.__all__) == len(set(rw.__all__))
