# One command each: `make demo` (main job) and `make test` (test suite).
# Both create .venv and install the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
IPMIX_DATA ?= $(abspath ../shared/data)
export IPMIX_DATA

.PHONY: venv demo test lint bench clean

$(BIN)/ipmix: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: pip takes these builds from the local wheel store on the dev machines.
	$(BIN)/pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --quiet -e ".[dev,timm]"
	touch $(BIN)/ipmix

venv: $(BIN)/ipmix

demo: venv
	$(BIN)/ipmix show --out runs/demo/gallery.png
	$(BIN)/ipmix demo --out runs/demo

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python benchmarks/throughput.py --out benchmarks/results/throughput.md

clean:
	rm -rf $(VENV) runs .pytest_cache
