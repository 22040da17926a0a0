# The course in two commands:  make lab  (open it)  and  make test  (prove it works).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= lab,app,dev,scale
# torch comes first, from scripts/install_torch.py: on Linux without an NVIDIA GPU it installs
# PyTorch's CPU build (PyPI's Linux wheel pulls several GB of CUDA libraries). TORCH_BUILD=cpu
# or TORCH_BUILD=default overrides its choice.
TORCH_BUILD ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq

.PHONY: install lab test test-unit test-notebooks test-hub test-browser java benchmark benchmark-full app notebooks links retarget

$(STAMP): pyproject.toml scripts/install_torch.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(BIN)/python scripts/install_torch.py $(if $(TORCH_BUILD),--build $(TORCH_BUILD))
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

## Open the course: JupyterLab on notebooks/ (auto mode: offline when the Hub is unreachable).
lab: install
	cd notebooks && ../$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

## Run every test offline: package, doctests, notebooks (nbval), the hub rehearsal, the browser.
test: test-unit test-notebooks test-hub test-browser

test-unit: install
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python -m pytest -q tests --doctest-modules imgsim_tutorial \
		--ignore=tests/browser --ignore=tests/test_hub_rehearsal.py

# A fresh cache, so the notebooks prove they work from nothing (drawing leaves, embedding).
test-notebooks: install java
	cache=$$(mktemp -d) && HF_HUB_OFFLINE=1 IMGSIM_MODE=offline IMGSIM_CACHE=$$cache \
		$(BIN)/python -m pytest -q --nbval-lax notebooks; status=$$?; rm -rf $$cache; exit $$status

# Every notebook in hub mode against a local stand-in of the Hub (tests/hub_standin.py): a
# Hugging Face cache holding nateraw/vit-base-beans, beans in its real parquet layout, the
# endpoint on a closed local port. Twice: with a small trained encoder (every assert holds), then
# with a ViT-base-sized one, where each kernel and embedding worker must peak under 1 GB.
test-hub: install java
	$(BIN)/python -m pytest -q -rs tests/test_hub_rehearsal.py

# Notebook 08 runs Apache Spark, which needs Java 17. Installed with apt when missing.
java:
	@if ! command -v java >/dev/null; then \
		if ! command -v apt-get >/dev/null; then \
			echo "notebook 08 runs Spark and needs Java 17, and there is no apt-get here: install a JDK 17" \
				"(macOS: brew install openjdk@17; conda: conda install openjdk=17), then rerun"; exit 1; \
		fi; \
		echo "java missing (notebook 08 runs Spark): installing openjdk-17-jre-headless with apt"; \
		$(APT_INSTALL) openjdk-17-jre-headless; \
	fi

# Browser tests need Debian's Chromium. In CI (CI=true) it is installed when missing and the
# tests must run; elsewhere, without Chromium, they skip with a one-line reason.
test-browser: install
	@if [ "$$CI" = "true" ] && [ ! -x /usr/bin/chromium ]; then \
		echo "CI: installing chromium with apt"; \
		$(APT_INSTALL) chromium; \
	fi
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python -m pytest -q -rs tests/browser

## Rebuild and re-run every notebook from notebooks/src (offline), storing outputs.
notebooks: install
	$(BIN)/python scripts/build_notebooks.py

## Refresh badges and navigation links only, keeping stored outputs (no kernel).
links: install
	$(BIN)/python scripts/build_notebooks.py --links-only

## Point badges, install lines and README at a fork:  make retarget REPO=OWNER/NAME
retarget:
	@test -n "$(REPO)" || { echo "usage: make retarget REPO=OWNER/NAME"; exit 2; }
	$(PYTHON) scripts/retarget.py $(REPO)

## Speed and quality benchmarks on SYNTHETIC realistic embeddings, up to N = 100,000 (about 10 min on 2 idle cores; `python benchmarks/run.py --quick` checks it runs in 30 s); writes benchmarks/results/.
benchmark: install
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python benchmarks/run.py

## The same plus the cost-growth step at N = 1,000,000 (about 8 min more: generating 3 GB of vectors and building HNSW on them).
benchmark-full: install
	HF_HUB_OFFLINE=1 IMGSIM_MODE=offline $(BIN)/python benchmarks/run.py --growth 10000 100000 1000000

## The search app as a standalone page (Voila), offline by default.
app: install
	IMGSIM_MODE=$${IMGSIM_MODE:-offline} $(BIN)/voila notebooks/07_search_app.ipynb --VoilaExecutor.timeout=300
