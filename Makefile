# The PingPong assignment package. `make help` lists the targets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

SUBMISSION ?= solution
RESULTS    ?=
BENCH_ARGS ?=

.PHONY: help test browser grade skeletons dist image-test bench soak clean

help:
	@echo "make test                  run the test suite (makes $(VENV) if missing)"
	@echo "make grade                 grade the reference solution"
	@echo "make grade SUBMISSION=path [RESULTS=file]   grade a zip, a folder or files"
	@echo "make skeletons             rewrite the handout skeletons from solution/"
	@echo "make dist                  write dist/autograder.zip (for Gradescope) and dist/handout.zip (for students)"
	@echo "make image-test            grade cases in a bare Debian image as Gradescope does (root; docs/gradescope.md)"
	@echo "make bench                 measure grading speed, throughput, latency and memory (bench/results/)"
	@echo "make bench BENCH_ARGS='--against REF --runs 20 --batch 200'   also time the grader at git commit REF"
	@echo "make soak                  grade catalogue entries many times under CPU load; count differing scores"

# The virtual environment, rebuilt when the pinned requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "PingPong needs Python 3.10 or newer to grade and test; set PYTHON=python3.x")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# Bytecode for the grader and the handout, brought up to date before each use: with
# PYTHONDONTWRITEBYTECODE set (it often is), every grading would compile them anew.
# So is the rubric, parsed ahead (see autograder/rubric.py); a broken one is left
# for the grader to report, in the results it writes.
BYTECODE := $(PY) -m compileall -q autograder assignment > /dev/null && { $(PY) -m autograder.rubric 2> /dev/null || true; }

test: $(STAMP) browser
	@$(BYTECODE)
	$(PY) -m pytest

# The course report is tested in a real browser, Debian's Chromium, installed here when missing (CI runs as
# root on a clean machine). Where it cannot be installed, the browser test is skipped and says why.
browser:
	@command -v chromium > /dev/null || command -v chromium-browser > /dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	    echo "installing chromium (Debian's package), for the course report's browser test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null; } \
	      || echo "note: chromium could not be installed; the browser test will be skipped"; \
	  else echo "note: chromium is not installed (as root with apt-get, make test installs it); the browser test will be skipped"; fi; }

grade: $(STAMP)
	@$(BYTECODE)
	$(PY) -m autograder grade "$(SUBMISSION)" $(if $(RESULTS),--results "$(RESULTS)")

skeletons: $(STAMP)
	$(PY) -m autograder.skeleton --write

# The grader's environment, to check the rubric as the grader reads it (tomli before Python 3.11).
dist: $(STAMP)
	$(PY) -m autograder.bundle

# As root: builds a bare Debian image once (cached under /var/cache/pingpong-image), then
# runs setup.sh and the cases in containers of it; tests/image/run.py says how.
image-test: $(STAMP)
	$(PY) tests/image/run.py

bench: $(STAMP)
	@$(BYTECODE)
	$(PY) bench/run.py $(BENCH_ARGS)

soak: $(STAMP)
	@$(BYTECODE)
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) dist results
