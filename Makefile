# Every target installs what it needs into .venv first, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test

.PHONY: demo test bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch==2.13.0 is the CPU build this machine keeps on disk; it is pinned in the test extra.
$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e '.[test,plot,fast]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rnnkit demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
