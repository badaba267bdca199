# The whole set-up on a fresh machine is `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests drive Debian's chromium (never a downloaded browser) with a CJK font for the pages.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
BROWSER_STAMP := $(VENV)/.browser
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: test demo lint bench soak clean

$(STAMP): setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Installs chromium and the CJK font when either is missing and we are root (a fresh CI machine);
# otherwise says what to install, and the browser tests skip until it is there.
$(BROWSER_STAMP): | $(STAMP)
	@if [ -x $(CHROMIUM) ] && [ -f $(CJK_FONT) ]; then \
		touch $@; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "browser tests: installing Debian's chromium and fonts-noto-cjk"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk && touch $@; \
	else \
		echo "browser tests: $(CHROMIUM) or the CJK font is missing and this is not root;" \
			"run 'sudo apt-get install chromium fonts-noto-cjk' (the browser tests skip until then)"; \
	fi

test: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/lint-imports --config setup.cfg
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/touchpoint demo

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The crash campaign (issue #11): the worker killed 20 times over 5,000 interactions, with SIGKILL, with
# SIGTERM, and with SIGKILL again while subscribers answer every copy of a question they get; about a
# minute each. Then SMSC faults and load (issue #16): each fault on 5,000 messages, and the ingest API under
# 50 clients for 60 s and the dashboards under 20 users against gunicorn on PostgreSQL (a database of the
# bench's own). Not part of `make test`. SOAK_ARGS adds options to each campaign run, e.g.
# SOAK_ARGS="--verbose"; LOAD_ARGS to the load run, e.g. LOAD_ARGS="--database postgresql+psycopg://…/mine".
soak: $(STAMP)
	$(BIN)/python benchmarks/crash_campaign.py --interactions 5000 --kills 20 --signal KILL $(SOAK_ARGS)
	$(BIN)/python benchmarks/crash_campaign.py --interactions 5000 --kills 20 --signal TERM $(SOAK_ARGS)
	$(BIN)/python benchmarks/crash_campaign.py --interactions 5000 --kills 20 --signal KILL --answer-copies \
		--seed 2 $(SOAK_ARGS)
	$(BIN)/python benchmarks/bench_faults.py --messages 5000
	$(BIN)/python benchmarks/bench_load.py --seconds 60 $(LOAD_ARGS)
	$(BIN)/python benchmarks/bench_scale.py $(SCALE_ARGS)

clean:
	rm -rf $(VENV) instance build *.egg-info
