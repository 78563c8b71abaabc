# Two entry points (see README): `make lab` and `make test`. Everything else is a helper: `make voila` serves
# the tutorials as dashboards, `make binder-link` prints this clone's Binder link.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab lab-workspace lab-reset voila binder-link test bench bench-cnn sweeps venv chromium clean screenshots

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

## Set everything up and open the tutorials in JupyterLab on 127.0.0.1, in the browser where there is
## one (else it prints the URL to open). Students work on copies in workspace/ (git-ignored, made from
## notebooks/ on the first run; notebooks added later are copied in, edited ones are kept), so saving
## never touches a committed file. `make lab FRESH=1` (or `make lab-reset`) starts again from notebooks/,
## keeping the old copies in workspace/.previous/. Settings: jupyter-config/ (kernel of a closed tab shut
## down, abandoned kernels culled, no news pop-up), also used by Binder. Stop with Ctrl+C twice.
## LAB_PORT=8888 (the next free port if taken), LAB_BROWSER=auto|yes|no, LAB_ARGS=more jupyter options.
WORKSPACE   := workspace
LAB_PORT    ?= 8888
LAB_BROWSER ?= auto
LAB_ARGS    ?=
FRESH       ?=
# auto: a browser on macOS, on Windows, or where Linux has a display; else print the URL only.
LAB_HAS_DISPLAY := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s)),$(filter Windows_NT,$(OS))),yes,no)
LAB_OPEN := $(if $(filter auto,$(LAB_BROWSER)),$(LAB_HAS_DISPLAY),$(LAB_BROWSER))

lab: $(STAMP) lab-workspace
	@echo "Starting JupyterLab with the tutorials of $(WORKSPACE)/. If no browser opens, open the"
	@echo "http://127.0.0.1:... URL (with its token) that it prints below. Ctrl+C twice stops it."
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	  --ServerApp.root_dir="$(CURDIR)/$(WORKSPACE)" $(if $(filter yes,$(LAB_OPEN)),,--no-browser) \
	  $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

## The students' copies of the tutorials: workspace/<notebook> for every notebooks/<notebook> missing there.
lab-workspace:
	@$(if $(filter 1 yes,$(FRESH)),$(MAKE) --no-print-directory lab-reset,true)
	@mkdir -p $(WORKSPACE)
	@for f in notebooks/*.ipynb; do \
	  t=$(WORKSPACE)/$${f#notebooks/}; \
	  if [ ! -e "$$t" ]; then cp -p "$$f" "$$t"; \
	  elif ! cmp -s "$$f" "$$t" && [ "$$f" -nt "$$t" ]; then \
	    echo "note: $$f changed since $$t was copied; \`make lab FRESH=1\` replaces the copies"; fi; \
	done

## Start the tutorials again from notebooks/: the current copies go to workspace/.previous/.
lab-reset:
	@if [ -d $(WORKSPACE) ]; then \
	  rm -rf $(WORKSPACE)/.previous && mkdir -p $(WORKSPACE)/.previous && \
	  find $(WORKSPACE) -mindepth 1 -maxdepth 1 ! -name .previous -exec mv {} $(WORKSPACE)/.previous/ \; ; fi
	@$(MAKE) --no-print-directory lab-workspace FRESH=

## The tutorials as Voila dashboards (outputs and widgets, no code) on 127.0.0.1, in the browser where there is
## one (else open the http://127.0.0.1:8866/ it prints): a list of notebooks/, each at /voila/render/<notebook>.
## Voila runs a notebook when its page opens (01 takes a minute or two) and saves nothing, so it serves notebooks/
## itself. Settings: jupyter-config/voila.json (the kernel of a closed page is shut down after 2 idle minutes).
## `make lab` serves the same pages at its own address: http://127.0.0.1:8888/voila/render/<notebook>.
## VOILA_PORT=8866 (the next free port if taken), VOILA_BROWSER=auto|yes|no, VOILA_ARGS=more voila options.
VOILA_PORT    ?= 8866
VOILA_BROWSER ?= auto
VOILA_ARGS    ?=
VOILA_OPEN := $(if $(filter auto,$(VOILA_BROWSER)),$(LAB_HAS_DISPLAY),$(VOILA_BROWSER))

voila: $(STAMP)
	@echo "Starting Voila with the tutorials of notebooks/. If no browser opens, open the http://127.0.0.1:..."
	@echo "URL that it prints below; each notebook runs when its page opens. Ctrl+C stops it."
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(VENV)/bin/voila "$(CURDIR)/notebooks" --Voila.ip=127.0.0.1 --Voila.port=$(VOILA_PORT) \
	  $(if $(filter yes,$(VOILA_OPEN)),,--no-browser) $(VOILA_ARGS)

## The mybinder.org link that opens the tutorials of this clone's GitHub `origin` (a fork gets its own), for the
## first slide of a workshop: binder/link.sh, which says why where there is no origin or it is not on GitHub.
## BINDER_VIEW=lab|voila (voila: the quickstart as a dashboard).
BINDER_VIEW ?= lab

binder-link:
	@sh binder/link.sh $(BINDER_VIEW)

## Set everything up and run every test: the linter (ruff, configured in pyproject.toml), unit tests, notebooks
## under nbval, the browser suite.
# RASHOMON_SMALL=1 makes every notebook's parameters cell pick its test size (nbval and the browser suite).
test: $(STAMP) chromium
	$(PY) -m ruff check .
	RASHOMON_SMALL=1 $(PY) -m pytest tests
	RASHOMON_SMALL=1 $(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

## Debian's Chromium for the browser suite (tests/browser), from apt when /usr/bin/chromium is missing.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

## The shipped XOR sweeps that notebooks 03 and 04 read (rashomon_widgets/data/files/xor_sweeps.jsonl.gz),
## made again on a Dask LocalCluster: 2,000 seeds per setup and width, each run twice (the second time from initial
## weights one ulp away, which marks the record's fragile fields), about an hour on two cores. Resumable: the raw
## records go to sweeps-work.jsonl and sweeps-work-probe.jsonl (git-ignored), so a killed run continues where it
## stopped. tests/experiments/test_shipped.py re-runs a sample and compares what each record promises.
## SWEEP_SEEDS=2000 SWEEP_WORKERS=2.
SWEEP_SEEDS   ?= 2000
SWEEP_WORKERS ?= 2
sweeps: $(STAMP)
	$(PY) -m rashomon_widgets.experiments.shipped --seeds $(SWEEP_SEEDS) --workers $(SWEEP_WORKERS) --work sweeps-work.jsonl

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
	$(PEERS_PY) -m benchmarks.check_peers
	touch $(PEERS_STAMP)

bench: $(PEERS_STAMP)
	$(PEERS_PY) -m benchmarks.run $(BENCH_ARGS)

## Issue 22's reference case (benchmarks/results-cnn.md): a CNN of 0.6M and one of 1.2M parameters on real MNIST
## digits, every row (library x task) in its own process for its peak memory; about an hour on 2 cores.
## `make bench-cnn BENCH_CNN_ARGS="--case tiny"` for a smoke run; see benchmarks/cnn.py for --only, --timeout.
BENCH_CNN_ARGS ?=

bench-cnn: $(PEERS_STAMP)
	$(PEERS_PY) -m benchmarks.cnn $(BENCH_CNN_ARGS)

clean:
	rm -rf $(VENV)

## Screenshots of the three explorers for the README (docs/img/*.png): Voila + headless Chromium, 1280 px.
screenshots: $(STAMP) chromium
	$(PY) -m tests.browser.make_screenshots
