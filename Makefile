# The course in two commands: `make grade` (instructor pipeline on the sample class)
# and `make test` (the test suite). Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MPLBACKEND ?= Agg
export PYTHONDONTWRITEBYTECODE := 1

WORKERS ?= 2
SCHEDULER ?=

.PHONY: help venv test test-fast grade report export lab release student-env bench clean hub hub-down

help:
	@echo "make grade    run the instructor pipeline on the sample class (ends with reports/synapses.html)"
	@echo "make report   (re)write reports/synapses.html, the class report, from the gradebook"
	@echo "make grade CLASS=60   grade a synthetic class of 60 drawn from the mutation tables (~25 min)"
	@echo "make grade PLANTED=40 grade a planted class of 40 (8 disguised copies) to check the similarity report"
	@echo "make test     run the test suite"
	@echo "make test-fast  the test suite without the slow and browser tests"
	@echo "make export LMS=canvas CANVAS_CSV=file.csv   grades into Canvas (or LMS=moodle): reports/synapses-<lms>.csv"
	@echo "make lab      open the course in JupyterLab"
	@echo "make release  regenerate helpers/data/reference_curves.npz and release/ from source/"
	@echo "make student-env  build dist/student-env/: what students get (no answers)"
	@echo "make bench    run the benchmarks in benchmarks/"
	@echo "make hub      start the course's JupyterHub (root): real users, exchange, Formgrader; prints URL and users"
	@echo "make hub-down stop the hub and remove its users, processes and files"
	@echo "make clean    remove .venv and the test caches"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

grade: $(STAMP)
	$(BIN)/python -m coursekit grade --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(CLASS),--class-size $(CLASS)) $(if $(PLANTED),--planted $(PLANTED)) $(GRADE_ARGS)

report: $(STAMP)
	$(BIN)/python -m coursekit report $(REPORT_ARGS)

LMS ?= canvas
CANVAS_CSV ?=
export: $(STAMP)
	$(BIN)/python -m coursekit export $(LMS) $(if $(CANVAS_CSV),--canvas-csv $(CANVAS_CSV)) $(EXPORT_ARGS)

release: $(STAMP)
	$(BIN)/python -m coursekit release

student-env: $(STAMP)
	$(BIN)/python -m coursekit student-env --out dist/student-env

# deploy/lab/: the server's Content-Security-Policy and Formgrader's sanitize_html (defence in depth)
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/deploy/lab$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH)) \
	$(BIN)/jupyter lab --notebook-dir=. $(LAB_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The course's JupyterHub on this machine (deploy/jupyterhub/; run as root).
HUB_ROOT ?= /srv/synapses-hub
HUB_PORT ?= 8765
HUB_STUDENTS ?= 2

hub: $(STAMP)
	$(BIN)/python deploy/jupyterhub/hubctl.py up --root $(HUB_ROOT) --port $(HUB_PORT) --students $(HUB_STUDENTS)

hub-down: $(STAMP)
	$(BIN)/python deploy/jupyterhub/hubctl.py down --root $(HUB_ROOT)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
