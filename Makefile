# The whole set-up on a fresh machine is `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench soak clean

$(STAMP): setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/lint-imports --config setup.cfg
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/touchpoint demo

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The crash campaign (issue #11): the worker killed 20 times over 5,000 interactions, with SIGKILL, with
# SIGTERM, and with SIGKILL again while subscribers answer every copy of a question they get; about a
# minute each. Not part of `make test`. SOAK_ARGS adds options to each run, e.g. SOAK_ARGS="--verbose".
soak: $(STAMP)
	$(BIN)/python benchmarks/crash_campaign.py --interactions 5000 --kills 20 --signal KILL $(SOAK_ARGS)
	$(BIN)/python benchmarks/crash_campaign.py --interactions 5000 --kills 20 --signal TERM $(SOAK_ARGS)
	$(BIN)/python benchmarks/crash_campaign.py --interactions 5000 --kills 20 --signal KILL --answer-copies \
		--seed 2 $(SOAK_ARGS)

clean:
	rm -rf $(VENV) instance build *.egg-info
