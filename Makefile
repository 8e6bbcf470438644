# Two entry points (see README.md): `make main` and `make test`. Both set up .venv first.
PY := .venv/bin/python

.PHONY: setup main test lint

setup:
	@bash tools/setup_env.sh

# Train + evaluate on Penn-Fudan (downloads it if possible); offline without data it runs the embedded demo.
main: setup
	$(PY) tools/main.py

test: setup
	$(PY) -m pytest -q tests
	$(MAKE) --no-print-directory lint

lint: setup
	$(PY) -m ruff check .
