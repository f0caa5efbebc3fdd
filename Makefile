# make install : .venv with nasfpn installed editable (+ test extras), graphviz and chromium when missing
# make test    : install, then the whole test suite
# make demo    : install, then the main job on built-in data (outputs under out/)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test demo bench clean graphviz chromium

install: $(STAMP) graphviz chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

# apt_install PROGRAM,PACKAGE,WHAT-IS-LOST: install PACKAGE with apt-get (as root) when PROGRAM
# is missing; otherwise a hint. Never fails the install.
define apt_install
	@if ! command -v $(1) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null) \
	      || echo "warning: could not install $(2); $(3)"; \
	  else \
	    echo "hint: install $(2) (e.g. sudo apt-get install $(2)); $(3)"; \
	  fi; \
	fi
endef

graphviz:
	$(call apt_install,dot,graphviz,without it 'nasfpn draw' writes .dot files only)

# headless Chromium opens the `nasfpn compare` page in the tests
chromium:
	$(call apt_install,chromium,chromium,without it the compare page test is skipped)

test: install
	$(PY) -m pytest

demo: install
	bash examples/demo.sh

bench: install
	$(PY) benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
