# iqbench: every target sets up its own virtual environment in .venv/ first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TASK_BUILDERS := build_metatool.py build_apibench.py build_ikat_passages.py build_ikat_ptkb.py \
	build_qulac_facets.py build_seal_tools.py

.PHONY: leaderboard site setup show test test-fast bench tasks clean-venv

leaderboard: $(STAMP)  ## evaluate what is missing on the suite, then render the site (prints its path)
	$(VENV)/bin/iqbench run --no-table
	$(VENV)/bin/iqbench render

site: $(STAMP)  ## render the site from the results only (no evaluation)
	$(VENV)/bin/iqbench render

setup: $(STAMP)  ## only create .venv/ and install (what every other target does first)

show: $(STAMP)  ## print the board from the committed results
	$(VENV)/bin/iqbench show

test: $(STAMP)  ## the test suite (real models, real data)
	$(PY) -m pytest -q

test-fast: $(STAMP)  ## skip the slow tests that train or score a real task
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)  ## harness overhead and cold/warm suite timings
	$(PY) bench/run_bench.py

tasks: $(STAMP)  ## rebuild the task folders from the raw sources (needs ../shared/sources)
	cd tasks/build && for script in $(TASK_BUILDERS) build_suite.py; do ../../$(PY) $$script || exit 1; done

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "iqbench needs Python 3.11+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: a bare 'torch' requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
