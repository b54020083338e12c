# mail_crm_link: `make demo` and `make test` work on a fresh machine (see README.md).
PYTHON ?= python3
export PYTHON

.PHONY: setup demo test lint bench clean

setup:
	@bash tools/setup.sh

demo: setup
	@$(PYTHON) tools/devenv.py demo

test: setup
	@$(PYTHON) tools/devenv.py test $(PYTEST_ARGS)

bench: setup
	@$(PYTHON) tools/bench.py $(BENCH_ARGS)

lint: setup
	@$(PYTHON) -m pre_commit run --all-files --show-diff-on-failure

clean:
	rm -rf .cache
