# Two commands on a fresh machine with Python >= 3.11 and pip:
#   make demo   creates .venv, installs selector, and runs a recommendation on a bundled example
#   make test   runs the whole test suite (what CI runs)
#
# torch is installed first, pinned, and pip keeps the build it finds first. Where the default
# index serves CUDA builds (PyPI on Linux: several GB), ask for the CPU one:
#   make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
# GPU users: TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128" (or install
# their own torch into .venv first; an installed torch is kept).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
DEMO_ARGS ?= example:digits --n-trials 12

.PHONY: setup dev demo test test-fast test-lowest lint typecheck bench clean system-deps

# selector and what running it needs; the test and lint tools come on top, for the targets
# that use them (`make demo` installs none of them).
$(BIN)/selector: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-tools: $(BIN)/selector
	$(BIN)/python -m pip install --quiet -e '.[dev,typecheck]'
	@touch $@

setup: $(BIN)/selector
dev: $(VENV)/.dev-tools

demo: setup
	$(BIN)/selector recommend $(DEMO_ARGS)

# One test process per CPU (pytest-xdist), each test handed to whichever is free.
XDIST := -n auto --dist worksteal

test: dev
	$(BIN)/python -m pytest $(XDIST)

test-fast: dev
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not server and not browser"

# The fast suite on the lowest version that pyproject.toml allows of each direct dependency
# (uv's lowest-direct resolution; the others at their newest), so that every declared floor is
# one that works. The runtime is resolved first and the test tools on top of it, so that a tool
# needing a newer release (mlflow[auth] for the team server) cannot lift a runtime floor. torch
# is left out and installed as in the set-up (TORCH_SPEC): PyPI's older torch releases come
# with several GB of CUDA packages.
LOWEST ?= .venv-lowest
UV := $(LOWEST)/bin/uv
LOWEST_COMPILE := $(UV) pip compile --quiet --python $(LOWEST)/bin/python \
  --resolution lowest-direct --override $(LOWEST)/without-torch.txt pyproject.toml
test-lowest:
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet 'uv>=0.5'
	echo 'torch; sys_platform == "never"' > $(LOWEST)/without-torch.txt
	$(LOWEST_COMPILE) --extra postgres -o $(LOWEST)/runtime.txt
	$(LOWEST_COMPILE) --extra dev --override $(LOWEST)/runtime.txt -o $(LOWEST)/lowest.txt
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --no-deps -r $(LOWEST)/lowest.txt
	$(LOWEST)/bin/python -m pip install --quiet $(TORCH_SPEC)
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --no-deps -e .
	$(LOWEST)/bin/python -m pytest $(XDIST) -p no:cacheprovider -m "not slow and not server and not browser"

# Debian packages the tests start themselves (CI runs this as root; a no-op once installed):
# Chromium for the browser test, PostgreSQL for the distributed-worker tests.
SYSTEM_PACKAGES := chromium chromium-driver postgresql
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	test -z "$$missing" || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

# The four benchmarks of bench/README.md, one after the other (about 15 minutes on 2 cores).
bench: dev
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.cells
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.parallel

lint: dev
	$(BIN)/ruff check selector tests mlflow bench

# mypy over the package, with the settings of [tool.mypy] in pyproject.toml (zero errors).
typecheck: dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(LOWEST) *.egg-info .pytest_cache .ruff_cache
