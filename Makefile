# The two commands of the README: `make run` and `make test`. Everything they need
# is installed here, so a fresh machine (or CI on a clean clone) needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
CHROMIUM := /usr/bin/chromium

.PHONY: run up test test-cluster lint install install-test chromium services debian-tools clean

# pip runs again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed node_modules/.package-lock.json
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# axe-core, the accessibility checker the browser tests run in Chromium.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Browser tests drive Debian's Chromium (downloading a browser does not work here).
chromium:
	@test -x $(CHROMIUM) || { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }

# Closed mode's code sheets and the quick report are drawn in DejaVu Sans (every
# Vietnamese letter; the report embeds DejaVuSans and DejaVuSans-Bold); the tests render
# the PDFs with poppler's pdftoppm and read them with pdftotext. WeasyPrint (the report)
# lays text out with pango (libpangoft2 brings pango, harfbuzz and fontconfig). HAProxy
# stands in front of the web nodes in tests/test_nodes.py and in the multi-host test
# (test-cluster), which makes its hosts with iproute2's `ip netns`. GNU PSPP and R read
# the .sav files and run the .R scripts we write (tests/test_data_files.py); R's survey
# package rakes the published example and the demo beside ours (tests/test_raking.py),
# and readstata13 reads our .dta files (PSPP reads no Stata files); both installed
# without their recommends (some 700 packages of spatial and plotting tools).
DEBIAN_TOOLS := fonts-dejavu-core poppler-utils libpango-1.0-0 libpangoft2-1.0-0 haproxy iproute2 pspp r-base-core
R_PACKAGES := r-cran-survey r-cran-readstata13
# A spreadsheet program we did not write reads our workbooks back (tests/test_roster_exports.py):
# LibreOffice Calc without its desktop parts, 53 packages.
LIBREOFFICE := libreoffice-calc-nogui
debian-tools:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf && command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null && ldconfig -p | grep -q libpangoft2-1.0.so.0 && test -x /usr/sbin/haproxy && command -v ip >/dev/null && command -v pspp >/dev/null && command -v Rscript >/dev/null || { apt-get install -y $(DEBIAN_TOOLS) || { apt-get update && apt-get install -y $(DEBIAN_TOOLS); }; }
	@Rscript -e 'library(survey); library(readstata13)' >/dev/null 2>&1 || { apt-get install -y --no-install-recommends $(R_PACKAGES) || { apt-get update && apt-get install -y --no-install-recommends $(R_PACKAGES); }; }
	@command -v soffice >/dev/null || { apt-get install -y --no-install-recommends $(LIBREOFFICE) || { apt-get update && apt-get install -y --no-install-recommends $(LIBREOFFICE); }; }

# PostgreSQL and Redis as this machine runs them; started when they are not running.
# Where they are not installed at all this fails, and so does `make test`: loudly.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 0.2; done; echo "PostgreSQL or Redis did not start" >&2; exit 1

run: install debian-tools
	$(BIN)/survey-engine demo --host $(HOST) --port $(PORT)
	$(BIN)/survey-engine serve --host $(HOST) --port $(PORT)

# Production shape on one machine: Redis with AOF, PostgreSQL, gunicorn, a worker.
up: install debian-tools services
	deploy/up.sh

# Lint: ruff's rules and its formatting, mypy over survey_engine, workers and exports,
# and the layer contracts of pyproject.toml (docs/architecture.md). The same four run
# as pre-commit hooks (.pre-commit-config.yaml) for a developer who installs them.
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs twice: on SQLite (the embedded default) and on PostgreSQL. Fault
# tests start their own processes against PostgreSQL and Redis, and replica tests a
# PostgreSQL primary and streaming replica of their own, so they run once.
test: install-test chromium debian-tools services lint
	$(BIN)/pytest -m "not faults and not replica and not cluster"
	TEST_DATABASE=postgresql $(BIN)/pytest -m "not cluster"

# The multi-host test (tests/cluster): HAProxy, 2 web hosts, 2 worker hosts, a Redis
# Cluster (3 masters, 3 replicas), PostgreSQL and a streaming replica, each on a network
# namespace of its own, and a 30,000-submission campaign with faults. Root only (it
# says so and fails elsewhere); a few minutes. `make test` leaves it out; CI runs both.
# CLUSTER_SUBMISSIONS=2000 for a quicker run while working on it.
test-cluster: install-test debian-tools services
	$(BIN)/pytest -m cluster -s tests/cluster

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts

# The campaign benchmark of BENCHMARKS.md, a few minutes: 75,000 submissions through
# gunicorn, Redis and the drain into PostgreSQL, beside a do-nothing Flask endpoint.
# Debian's wrk drives the load. BENCHMARK_ARGS reaches benchmarks/campaign.py
# (e.g. BENCHMARK_ARGS="--json result.json"; --help lists the options).
.PHONY: benchmark
benchmark: install services
	@command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python benchmarks/campaign.py $(BENCHMARK_ARGS)

# The export benchmark of BENCHMARKS.md: our workbook, pandas.to_excel and bare
# XlsxWriter on the demo with 75,000 responses and a 510-field survey with 132,000
# (data built once under instance/bench-export, several minutes; then ~20 minutes).
# EXPORT_BENCHMARK_ARGS reaches benchmarks/export.py (e.g. "--size demo").
.PHONY: benchmark-export
benchmark-export: install
	$(BIN)/python benchmarks/export.py $(EXPORT_BENCHMARK_ARGS)

# The interface's texts (survey_engine/translations), for developers after adding or
# changing a _() in a template, an N_() in survey_engine/i18n.py or one of the
# workbook's NP_() words in exports/workbook.py: `make translations`
# extracts messages.pot (babel.cfg says where from), updates the vi and en catalogs
# (English is the msgid itself), and compiles them. Translate the new or fuzzy entries of
# vi/LC_MESSAGES/messages.po, run it again, and commit the .pot, .po and .mo files:
# `make test` uses the committed .mo, and tests/test_translations.py fails when they
# and the code disagree.
TRANSLATIONS := survey_engine/translations
.PHONY: translations
translations: install
	$(BIN)/pybabel extract -F babel.cfg --add-comments=NOTE: --strip-comment-tags \
	    --add-location=file --project=survey-engine --version=0.1.0 \
	    --header-comment="# The interface texts of survey-engine (make translations)." \
	    -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics
