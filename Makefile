# The commands a newcomer types. Each one sets up what it needs first (scripts/bootstrap.sh).
PY := .venv/bin/python

.PHONY: setup test demo bench lint clean

setup:
	@bash scripts/bootstrap.sh

test: setup
	@bash scripts/run_tests.sh

demo: setup
	@bash scripts/demo.sh

bench: setup
	@mkdir -p out/bench
	@for b in bench/*.py; do \
	  name=$$(basename $$b .py); \
	  echo "== $$name"; \
	  $(PY) $$b --json out/bench/$$name.json || exit 1; \
	done

lint: setup
	@.venv/bin/ruff check firmware host tests bench

clean:
	rm -rf .venv out .pytest_cache .ruff_cache

screenshots: setup
	@$(PY) scripts/screenshots.py
