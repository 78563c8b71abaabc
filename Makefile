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
# RASHOMON_SMALL=1 makes every notebook's parameters cell pick its test size (nbval and the browser suite).
test: $(STAMP) chromium
	RASHOMON_SMALL=1 $(PY) -m pytest tests
	RASHOMON_SMALL=1 $(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

## Debian's Chromium for the browser suite (tests/browser), from apt when /usr/bin/chromium is missing.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

## Benchmarks against PyHessian, curvlinops and loss-landscapes (benchmarks/results.md). The peers get
## their own venv, benchmarks/.venv-peers: the lock, then the peers with torch held at 2.13.0 and
## --no-deps (their pinned closure leaves out torchvision, which would pull a CUDA torch).
## `make bench BENCH_ARGS="--quick --only xor,mlp"` for a smoke run.
PEERS       := benchmarks/.venv-peers
PEERS_PY    := $(PEERS)/bin/python
PEERS_STAMP := $(PEERS)/.installed
BENCH_ARGS  ?=

$(PEERS_STAMP): requirements.lock pyproject.toml benchmarks/requirements-peers.txt benchmarks/constraints-peers.txt benchmarks/check_peers.py
	test -x $(PEERS_PY) || $(PYTHON) -m venv $(PEERS)
	$(PEERS_PY) -m pip install --quiet -r requirements.lock
	$(PEERS_PY) -m pip install --quiet --no-deps -c benchmarks/constraints-peers.txt -r benchmarks/requirements-peers.txt
	$(PEERS_PY) -m pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	$(PEERS_PY) benchmarks/check_peers.py
	touch $(PEERS_STAMP)

bench: $(PEERS_STAMP)
	$(PEERS_PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV)
