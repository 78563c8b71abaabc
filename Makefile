# Two entry points (see README): `make lab` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab test unit notebooks browser bench venv chromium clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

## Set everything up and open the tutorials in JupyterLab on 127.0.0.1.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

## Set everything up and run every test: unit tests, notebooks under nbval, the browser suite.
test: $(STAMP)
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval --nbval-current-env -p no:cacheprovider notebooks

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV)
