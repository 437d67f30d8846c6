# workbench — two set-up commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT_APP ?= 8501
PORT_MLFLOW ?= 5000
PORT_NOTEBOOK ?= 8888
DEMO_ARGS ?=

# llama-cpp-python compiles llama.cpp on install: build it portable (no -march=native),
# so a cached wheel never dies with SIGILL on another CPU.
export CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
export CMAKE_BUILD_PARALLEL_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Telemetry off, hubs offline (the package sets the same defaults on import).
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export MLFLOW_MODEL_CATALOG_URI :=
export RAGAS_DO_NOT_TRACK := true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false

.PHONY: help install install-dev lock demo test test-fast lint app mlflow notebook server server-stop benchmark clean system-deps schema

help:
	@echo "make demo   - install, run the quickstart experiment on the local models, log to mlruns/"
	@echo "make test   - install, run the whole test suite (what CI runs)"
	@echo "make app | mlflow | notebook | server | benchmark | lint | lock"

# requirements.lock holds one version of every package (make lock); pyproject.toml says
# which extras a target needs, the lock fixes their versions (pip's -c), so two machines get
# the same environment.
LOCK := requirements.lock
# The CPU wheel of torch (pinned in the lock) lies in /opt/wheels on the project's machines;
# elsewhere: make install TORCH_FIND_LINKS=https://download.pytorch.org/whl/torch_stable.html
TORCH_FIND_LINKS ?=
PIP := $(PY) -m pip install --quiet -c $(LOCK)

$(VENV)/.installed: $(LOCK) pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools
	# The CPU wheel of torch first: anything that pulls torch later must not fetch a CUDA build.
	$(PIP) $(if $(TORCH_FIND_LINKS),--find-links $(TORCH_FIND_LINKS)) "$$(grep -m1 '^torch==' $(LOCK))"
	$(PIP) -e ".[local,app,dask,server]"
	$(PY) -m pip check
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e ".[dev]"
	$(PY) -m pip check
	@touch $@

lock:
	bash scripts/lock.sh $(LOCK_ARGS)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/workbench run experiments/quickstart.yaml $(DEMO_ARGS)
	@echo
	@echo "Next:"
	@echo "  make app       # the Streamlit app:  http://127.0.0.1:$(PORT_APP)"
	@echo "  make mlflow    # the MLflow UI:      http://127.0.0.1:$(PORT_MLFLOW)"
	@echo "  make demo DEMO_ARGS=--full   # the whole golden set instead of the sample"

# Chromium (browser test) and PostgreSQL (server-mode tests) come from Debian.
system-deps:
	@bash scripts/system-deps.sh

test: install-dev system-deps
	@set +e; $(PY) -m pytest --durations=25 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit 5)"; exit 1; fi; exit $$rc

test-fast: install-dev
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

# ruff, the format check, mypy and the layer contract (.importlinter); CI runs it (.ci/run).
lint: install-dev
	$(VENV)/bin/ruff check workbench tests apps benchmarks
	$(VENV)/bin/ruff format --check workbench tests apps benchmarks
	$(VENV)/bin/mypy workbench
	$(VENV)/bin/lint-imports

app: install
	$(VENV)/bin/streamlit run apps/Home.py --server.address 127.0.0.1 --server.port $(PORT_APP) --server.headless true --browser.gatherUsageStats false

mlflow: install
	$(VENV)/bin/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///mlruns/mlflow.db}" --host 127.0.0.1 --port $(PORT_MLFLOW) --workers 1

notebook: install-dev
	$(PY) -m ipykernel install --sys-prefix --name workbench --display-name "workbench (.venv)" >/dev/null
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --port $(PORT_NOTEBOOK) --no-browser notebooks/

# MLflow server mode: PostgreSQL under .pg/ + `mlflow server` on 127.0.0.1 (idempotent).
server: install system-deps
	WB_MLFLOW_PORT=$(PORT_MLFLOW) bash scripts/server.sh start

server-stop:
	WB_MLFLOW_PORT=$(PORT_MLFLOW) bash scripts/server.sh stop

# Every benchmark writes its section of docs/benchmarks.md; they share the CPU lock.
BENCHMARKS ?= overhead cache_rerun concurrency logging_read growth peers
BENCH_LOCK ?= flock /tmp/wb-heavy.lock
benchmark: install-dev
	@for b in $(BENCHMARKS); do echo "== benchmarks/$$b.py"; $(BENCH_LOCK) $(PY) benchmarks/$$b.py || exit 1; done

schema: install
	$(VENV)/bin/workbench schema

clean:
	rm -rf .cache .pytest_cache build *.egg-info
