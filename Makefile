# The two commands of the README: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
WORKERS ?= 2

.PHONY: install run test test-fast lint bench demo clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

tests/peers/node_modules/.installed: tests/peers/package.json tests/peers/package-lock.json
	cd tests/peers && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

install: $(BIN)/.installed node_modules/.installed

## make run: development server with SQLite under instance/ and the demo dataset.
run: install
	$(BIN)/aidants db upgrade
	$(BIN)/aidants demo
	@echo
	@echo "  Aidants Connect (développement) : http://127.0.0.1:$(PORT)"
	@echo "  Se connecter : http://127.0.0.1:$(PORT)/connexion avec l'une des adresses ci-dessus et le code du moment :"
	@echo "      $(BIN)/aidants totp-code camille@demo.example.org     (la carte de Louis : louis@demo.example.org)"
	@echo "  Le lien de connexion s'affiche ici, entre deux lignes « --- », et sur http://127.0.0.1:$(PORT)/dev/outbox"
	@echo "  (le journal des requêtes va dans instance/access.log, pour que ces liens restent lisibles)."
	@echo "  Bac à sable : http://127.0.0.1:$(PORT)/sandbox/service/ (un service qui demande une identité)"
	@echo
	$(BIN)/gunicorn --workers $(WORKERS) --threads 4 --bind 127.0.0.1:$(PORT) --access-logfile instance/access.log wsgi:app

## make test: every test (SQLite by default; DATABASE_URL=postgresql+psycopg://… for PostgreSQL).
test: install $(if $(wildcard tests/peers/package.json),tests/peers/node_modules/.installed)
	$(BIN)/ruff check aidants oidc tests bench wsgi.py
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -x -q -m "not browser" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules tests/peers/node_modules instance .pytest_cache .mypy_cache .ruff_cache
