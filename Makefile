# CreditRisk — `make run` starts the product, `make test` runs the suite. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT   ?= 8000
export OMP_NUM_THREADS ?= 1

.PHONY: run test install migrate seed messages lint perf browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo --if-empty

run: seed
	$(BIN)/python manage.py schedules_install
	PORT=$(PORT) $(BIN)/python manage.py run_all --port $(PORT)

test: install
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# Regenerate the Chinese catalogue after changing strings (needs GNU gettext); the .mo files are committed.
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore=tests
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

perf: install
	$(BIN)/python -m pytest -p no:cacheprovider tests/perf -s -o addopts="" $(PYTEST_ARGS)

browser: install
	$(BIN)/python -m pytest -p no:cacheprovider tests/browser $(PYTEST_ARGS)

clean:
	rm -rf var/test-*.sqlite3* var/cache
