# The course in two commands:  make lab  (open it)  and  make test  (prove it works).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch first and pinned: an unpinned torch pulls gigabytes of CUDA wheels on Linux.
TORCH_PIN ?= torch==2.13.*
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install lab test test-unit test-notebooks test-browser benchmark app

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Open the course: JupyterLab on notebooks/ (auto mode: offline when the Hub is unreachable).
lab: install
	cd notebooks && ../$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

## Run every test offline: package, doctests, notebooks (nbval), and the browser tests.
test: test-unit test-notebooks test-browser

test-unit: install
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python -m pytest -q tests --doctest-modules imgsim_tutorial --ignore=tests/browser

# A fresh cache, so the notebooks prove they work from nothing (drawing leaves, embedding).
test-notebooks: install
	cache=$$(mktemp -d) && HF_HUB_OFFLINE=1 IMGSIM_MODE=offline IMGSIM_CACHE=$$cache \
		$(BIN)/python -m pytest -q --nbval-lax notebooks; status=$$?; rm -rf $$cache; exit $$status

# Browser tests need Debian's Chromium. In CI (CI=true) it is installed when missing and the
# tests must run; elsewhere, without Chromium, they skip with a one-line reason.
test-browser: install
	@if [ "$$CI" = "true" ] && [ ! -x /usr/bin/chromium ]; then \
		echo "CI: installing chromium with apt"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python -m pytest -q -rs tests/browser

## Speed and quality benchmarks (a few minutes); writes benchmarks/results/.
benchmark: install
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python benchmarks/run.py

## The search app as a standalone page (Voila), offline by default.
app: install
	IMGSIM_MODE=$${IMGSIM_MODE:-offline} $(BIN)/voila notebooks/07_search_app.ipynb --VoilaExecutor.timeout=300
