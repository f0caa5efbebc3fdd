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

graphviz:
	@if ! command -v dot >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing graphviz (dot) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "warning: could not install graphviz; 'nasfpn draw' will write .dot files only"; \
	  else \
	    echo "hint: install graphviz for 'nasfpn draw' (e.g. sudo apt-get install graphviz)"; \
	  fi; \
	fi

# headless Chromium opens the `nasfpn compare` page in the tests (skipped without it)
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the compare page test will be skipped"; \
	  else \
	    echo "hint: install chromium to test the 'nasfpn compare' page (e.g. sudo apt-get install chromium)"; \
	  fi; \
	fi

test: install
	$(PY) -m pytest

demo: install
	bash examples/demo.sh

bench: install
	$(PY) benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
