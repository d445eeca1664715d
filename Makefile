# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test init chromium libreoffice bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

init: $(STAMP)
	$(BIN)/flask --app app init --demo

run: init
	$(BIN)/python app.py

# Browser tests drive Debian's chromium; never a downloaded browser.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "安装 chromium（Debian 软件包）…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || sudo sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'; }

# The print test converts workbooks to PDF with Debian's LibreOffice (headless) and reads them with poppler.
libreoffice:
	@{ command -v soffice >/dev/null 2>&1 && command -v pdfinfo >/dev/null 2>&1; } || { \
	  echo "安装 LibreOffice Calc 和 poppler-utils（Debian 软件包）…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui poppler-utils >/dev/null) \
	  || sudo sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui poppler-utils >/dev/null'; }

# Two workers (the machine has two cores): each PostgreSQL test makes its own schema, so they never meet.
test: $(STAMP) chromium libreoffice
	TEST_DATABASE_URL=$${TEST_DATABASE_URL-postgresql://postgres@127.0.0.1:5432/test} \
	  $(BIN)/python -m pytest -q -n $${TEST_WORKERS-2} tests

bench: $(STAMP)
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache
