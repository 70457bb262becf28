# Two entry points on a fresh machine with Python 3.11 and make:
#   make book   set up .venv and build the site strictly into _build/html
#   make test   set up .venv, run pytest, strict nbval over every notebook, the course kit and the strict book build
#   make course build the course kit into _build/course: student notebooks, solved notebooks, otter autograders
# `book` is also a folder, so every target is phony or make would silently do nothing.
.PHONY: setup book test pytest nbval course notebooks clean

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Exact pins; pip takes torch==2.13.0 from the local CPU wheel.
$(STAMP): requirements.txt pyproject.toml setup.py lightattn_ref/attention/_ulsam_kernel.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going

pytest: setup
	$(BIN)/python -m pytest tests -q

# Strict nbval: every stored output must reproduce (volatile cells are tagged nbval-ignore-output).
nbval: setup
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg --nbval-cell-timeout=300 notebooks -q -p no:randomly

# The chapters are the single source: student notebooks, solutions and autograders are built from them.
course: setup
	$(BIN)/python course/build.py --out _build/course

test: pytest nbval course book

# Re-execute the notebooks in place, so their stored outputs are current.
notebooks: setup
	$(BIN)/jupyter execute --inplace --timeout=600 notebooks/*.ipynb
	$(BIN)/python book/notebook_times.py

clean:
	rm -rf _build
