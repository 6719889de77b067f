#!/usr/bin/env bash
# Gradescope runs this once, as root, from /autograder/source, when it builds
# the autograder's image (see docs/gradescope.md).
#
# - A virtual environment at $AUTOGRADER_ROOT/venv gets grading's pinned
#   requirements, and the grader is compiled to bytecode: a system Python may
#   refuse `pip install` (Debian 12's does: PEP 668), and a venv works the
#   same whatever the image. It sits outside source/ because the sandbox
#   user may need to run its Python, and source/ is closed to it.
# - The unprivileged user student programs run as, pingpong-student, is
#   created if missing.
# - source/ (which holds the reference solution) is closed to other users,
#   so student programs cannot read it. Only the folder itself: a closed
#   folder already hides everything in it, and files the grader copies out
#   of it keep ordinary permissions.
#
# Safe to run twice. AUTOGRADER_ROOT (default /autograder) lets the whole flow
# run anywhere, and PYTHON (default python3) choose the grader's Python; the
# test suite uses both. What has run this script, on which images and Pythons:
# docs/gradescope.md, "Which images and Pythons have been run".
set -euo pipefail

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="$ROOT/venv"
SANDBOX_USER=pingpong-student
PYTHON="${PYTHON:-python3}"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

say() { echo "setup.sh: $*"; }

as_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
    if ! as_root || ! command -v apt-get >/dev/null 2>&1; then
        say "cannot install $* here (needs root and apt-get); install it and run setup.sh again" >&2
        exit 1
    fi
    say "installing $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Python 3.10 or newer: that of Gradescope's Ubuntu 22.04 image is 3.10.
command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3 python3-venv
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    say "the grader needs Python 3.10 or newer; $PYTHON is $("$PYTHON" -V 2>&1). Choose the Ubuntu 22.04 base image." >&2
    exit 1
fi

# The virtual environment: reused when it works, made (again) when it does not.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    if ! "$PYTHON" -m venv --clear "$VENV"; then
        # Debian and Ubuntu ship venv's pip bootstrap apart, in python3-venv.
        apt_install python3-venv
        "$PYTHON" -m venv --clear "$VENV"
    fi
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$SOURCE/requirements.txt"
say "grading's requirements are installed in $VENV ($("$VENV/bin/python" -V 2>&1))"
# Compiled once, here: run_autograder grades with PYTHONDONTWRITEBYTECODE, which
# would otherwise have every grading compile the grader anew (about 35 ms).
"$VENV/bin/python" -m compileall -q "$SOURCE/autograder" "$SOURCE/assignment" >/dev/null
# Likewise the rubric, parsed once here (see autograder/rubric.py); a broken
# rubric.toml stops the setup, with the key that is wrong.
if ! (cd "$SOURCE" && "$VENV/bin/python" -m autograder.rubric); then
    say "autograder/rubric.toml is refused (see above): fix it, and upload the autograder again" >&2
    exit 1
fi

if as_root; then
    id -u "$SANDBOX_USER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin "$SANDBOX_USER"
    # One grading runs up to four student programs, each as a user of its own;
    # making them now saves each grading the time of making them on demand.
    (cd "$SOURCE" && "$VENV/bin/python" -m autograder.sandbox --ensure-user)
    say "student programs can run as $SANDBOX_USER and its siblings (uid $(id -u "$SANDBOX_USER"))"
else
    say "not root: the user $SANDBOX_USER was not created" >&2
fi

chmod o= "$SOURCE"
say "$SOURCE is closed to other users"
