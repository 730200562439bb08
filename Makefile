# schoolbus: `make demo` and `make test` each set up .venv on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench-matrix bench-park bench-scale bench-budget bench-bells clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the outputs need: fonts that cover Turkish (ğ ş ı İ) and Arabic, and Pango, which
# WeasyPrint prints route sheets and notices with. The tests also look at what people see:
# chromium screenshots the offline map, poppler-utils (pdftoppm) renders PDF pages. Installed only
# when missing and when run as root; otherwise the apt command is printed (visual tests then skip).
SYSTEM_PACKAGES := fonts-dejavu-core fonts-noto-core libpango-1.0-0 libpangoft2-1.0-0
TEST_SYSTEM_PACKAGES := $(SYSTEM_PACKAGES) chromium poppler-utils
.PHONY: system-deps test-system-deps
system-deps:
	@$(call apt_install,$(SYSTEM_PACKAGES))
test-system-deps:
	@$(call apt_install,$(TEST_SYSTEM_PACKAGES))

define apt_install
	if dpkg -s $(1) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages: $(1)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null; \
	else \
		echo "system-deps: not root, nothing installed. Ask an administrator to run:"; \
		echo "  apt-get install $(1)"; \
	fi
endef

demo: system-deps install
	$(BIN)/schoolbus demo

# pytest exits 5 when it collects no test: that is a failure here, as any other non-zero status.
# The service's store is tested on SQLite and on a throw-away local PostgreSQL (those tests skip,
# saying why, where none can start).
# ruff (bug-finding rules and import order, see [tool.ruff] in pyproject.toml), import-linter
# (the layers of docs/architecture.md, [tool.importlinter]) and mypy (strict on the core stages,
# [tool.mypy]; about 10 s with its cache in .mypy_cache, 1-2 min cold) run first.
# `make test-fast` leaves out the tests marked slow (over a few seconds each; about 3 minutes in all).
LINT_PATHS := src tests benchmarks
lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/lint-imports
	$(BIN)/mypy

test: test-system-deps install lint
	bash .ci/with-postgres.sh $(BIN)/python -m pytest

test-fast: test-system-deps install lint
	bash .ci/with-postgres.sh $(BIN)/python -m pytest -m "not slow"

# 1,000 x 1,000 drive-time matrix vs networkx and OSRM (pip-installs osrm-bindings into .cache/
# when a Python >= 3.12 is on the machine); figures in benchmarks/README.md.
bench-matrix: install
	$(BIN)/python benchmarks/matrix_bench.py

# Park-Tae-Kim school-bus benchmark (RSRB01-08, CSCB01-08 from ../shared) at both ride limits,
# PARK_TIME seconds per instance and limit (60 by default: about 20 min; 300: about 45 min);
# solutions, checker verdicts and the table with LB and BiRD's figures go to benchmarks/results/.
PARK := ../shared/benchmarks/park2012
PARK_TIME ?= 60
bench-park: install
	$(BIN)/python benchmarks/park2012.py $(sort $(wildcard $(PARK)/RSRB0? $(PARK)/CSCB0?)) \
		--max-ride 2700 5400 --time-limit $(PARK_TIME) --workers 2 \
		--out-dir benchmarks/results/park2012-$(PARK_TIME) \
		--table benchmarks/results/park2012-$(PARK_TIME).md

# Province scale: generated districts of SCALE_N pupils on the Helsinki extract and a 50,000-node
# synthetic grid, planned with every output; wall, CPU and peak memory per stage go to
# benchmarks/results/scale/ (scale.md, scale.png, runs.json). The four sizes take about 1.5 h.
SCALE_N ?= 1000 5000 10000 20000
SCALE_NETWORKS ?= helsinki grid
bench-scale: system-deps install
	$(BIN)/python benchmarks/scale.py --n $(SCALE_N) --network $(SCALE_NETWORKS)

# Serve within a budget: planner against the priority-then-nearest baseline at 25/50/75 % of the
# full plan's cost (BUDGET_N pupils; 2,000 take 8–13 minutes on 2 cores: 37 plans).
BUDGET_N ?= 2000
bench-budget: install
	$(BIN)/python benchmarks/budget.py --n $(BUDGET_N)

# Bell-time scenarios: one shared bell against bells chosen within +-30 min (BELLS_N pupils).
BELLS_N ?= 500
bench-bells: install
	$(BIN)/python benchmarks/bells.py --n $(BELLS_N)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache
