"""`python -m autograder grade ...`: the instructor's and Gradescope's way in.

Whatever happens, a results file is written: a garbage submission gets its
score (0) and a message; a grader that breaks writes results that say so
before it exits non-zero, so Gradescope never shows a bare failure.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from . import report, rubric
from .grading import grade

DESCRIPTION = """Grade a PingPong submission against the reference.

SUBMISSION is a zip as a student uploads it, a folder holding the files,
or the files themselves (server_student.py, client2_student.py)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="The PingPong autograder.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    g = commands.add_parser("grade", help="grade one submission", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("submission", nargs="+", type=Path, metavar="SUBMISSION")
    g.add_argument("--results", type=Path, metavar="FILE",
                   help="where to write Gradescope's results JSON (default: results/<submission>.json)")
    g.add_argument("--rubric", type=Path, metavar="FILE",
                   help=f"the rubric to grade by (default: {rubric.DEFAULT_FILE.name} beside the grader)")
    g.add_argument("-v", "--verbose", action="store_true", help="also print what students read for failed tests")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    name = args.submission[0].stem if len(args.submission) == 1 else "submission"
    path = args.results or Path("results") / f"{name or 'submission'}.json"
    started = time.monotonic()
    try:
        chosen = rubric.load(args.rubric)
    except rubric.ConfigError as error:
        report.write(report.failure(f"the rubric is invalid: {error}"), path)
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        result = grade(list(args.submission), chosen)
        report.write(report.results(result), path)
    except Exception:  # the grader itself broke: say so in the results, then fail
        report.write(report.failure(traceback.format_exc(limit=8), time.monotonic() - started), path)
        traceback.print_exc()
        print(f"error: the grader failed; {path} says so", file=sys.stderr)
        return 1
    print(report.table(result, path))
    if args.verbose:
        for verdict in result.verdicts:
            if not verdict.passed:
                print(f"\n=== {verdict.test.name}\n{verdict.output}")
    return 0
