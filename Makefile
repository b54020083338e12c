# mail_crm_link: `make demo` and `make test` work on a fresh machine (see README.md).
# ODOO_SERIES selects the Odoo series: 18 (default) or 19 (`make test ODOO_SERIES=19`).
ODOO_SERIES ?= 18
export ODOO_SERIES
# Odoo 18 lives in python3; Odoo 19 in its own virtual environment (tools/setup.sh makes it).
ifeq ($(firstword $(subst ., ,$(ODOO_SERIES))),19)
ODOO_VENV ?= $(HOME)/.cache/mail_crm_link/venv-19
export ODOO_VENV
PYTHON ?= $(ODOO_VENV)/bin/python
else
PYTHON ?= python3
endif
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
