# 政策通 — every set-up step lives here. `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test index bench eval clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is installed with its pin first: the CPU build on this machine's disk, never a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --upgrade "pip>=24"
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

index: install
	$(PY) -m policy_assistant index build

run: index
	$(PY) -m policy_assistant serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

eval: install
	$(PY) -m policy_assistant eval

bench: index
	$(PY) -m policy_assistant bench

clean:
	rm -rf data evals/report bench/report test-artifacts
