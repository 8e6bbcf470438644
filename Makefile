# Two entry points (see README.md): `make main` and `make test`. Both set up .venv first.
PY := .venv/bin/python

.PHONY: setup main test lint

setup:
	@bash tools/setup_env.sh

# Train + evaluate on Penn-Fudan (downloads it if possible); offline without data it runs the embedded demo.
main: setup
	$(PY) tools/main.py

# Two pytest-xdist workers; each test file runs whole on one of them, the server tests together on one, the
# longest first (tests/conftest.py sets the work units and their order; xdist's own reorder would undo it).
# A worker that dies ends the run, naming the test it ran: xdist 3.8 would restart it, then wait forever for
# work units it never hands out again under --dist loadgroup.
test: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder --max-worker-restart=0 --durations=20 tests
	$(MAKE) --no-print-directory lint

lint: setup
	$(PY) -m ruff check .
