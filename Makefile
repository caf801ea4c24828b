# Fineprint: `make run` starts everything on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fineprint
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The browser tests (tests/browser) need Debian's chromium and chromium-driver: run when both are installed.
# .ci/run installs them and requires them; without them here, `make test` says so and leaves those tests out.
HAVE_CHROMIUM := $(shell command -v chromium >/dev/null && command -v chromedriver >/dev/null && echo yes)
NOT_BROWSER := $(if $(HAVE_CHROMIUM),, and not browser)
# The PDF page tests (tests/reports/test_pdf_pages.py) need poppler's pdftoppm and pdftotext: likewise.
HAVE_POPPLER := $(shell command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null && echo yes)
NOT_PDF := $(if $(HAVE_POPPLER),, and not pdf_pages)

.PHONY: run test integration bench lint format schema clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run-dev

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings_test $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings_test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	@test -n "$(HAVE_CHROMIUM)" || echo "make test: chromium or chromedriver missing: the browser tests are left out (apt-get install chromium chromium-driver)"
	@test -n "$(HAVE_POPPLER)" || echo "make test: pdftoppm or pdftotext missing: the PDF page tests are left out (apt-get install poppler-utils)"
	$(BIN)/pytest -m "not integration$(NOT_BROWSER)$(NOT_PDF)"

# The whole suite again, with the integration tests, on PostgreSQL and a real Celery worker on Redis.
# The browser tests ran in `make test`: they check pages, not the database, so they do not run twice.
integration: $(STAMP)
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) CELERY_RESULT_BACKEND=$(TEST_REDIS_URL) \
		$(BIN)/pytest -m "not browser"

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bench/run

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

clean:
	rm -rf $(VENV) var
