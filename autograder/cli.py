"""`python -m autograder grade ...`: the instructor's and Gradescope's way in.

Whatever happens, a results file is written: a garbage submission gets its
score (0) and a message; a grader that breaks writes results that say so
before it exits non-zero, so Gradescope never shows a bare failure.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from . import INTERRUPTED, accounts, report, rubric
from .grading import grade

DESCRIPTION = """Grade PingPong submissions against the reference.

One submission: a zip as a student uploads it, a folder holding the files,
or the files themselves (server_student.py, client2_student.py). Its table
is printed and its results JSON written to --results.

Many submissions (a batch), when SUBMISSION is
  - several zips or folders, each one submission;
  - a folder of submissions: a folder with no .py file of its own that
    holds two or more subfolders or zips, each one submission;
  - a Gradescope "Export Submissions" zip, or the folder it unpacks to
    (it holds submission_metadata.yml);
  - anything at all, with --out.
A batch writes DIR/grades.csv (a row per submission), DIR/students.csv (a
row per student, to import into a gradebook), DIR/<submission>/results.json
and feedback.html, and the course report DIR/report.html (and report.md),
and prints a summary. Run again with the same --out to grade only what is not graded
yet (after Ctrl-C, say); --force regrades everything.

.py files given together are always one submission, as is a folder that
holds .py files of its own; --one makes any arguments one submission."""


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds the scenes, whose cleanup stops every student program


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, not {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="The PingPong autograder.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    g = commands.add_parser("grade", help="grade one submission, or a batch of them", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("submission", nargs="+", type=Path, metavar="SUBMISSION")
    g.add_argument("--results", type=Path, metavar="FILE",
                   help="where to write Gradescope's results JSON (default: results/<submission>.json)")
    g.add_argument("--rubric", type=Path, metavar="FILE",
                   help=f"the rubric to grade by (default: {rubric.DEFAULT_FILE.name} beside the grader)")
    g.add_argument("-v", "--verbose", action="store_true", help="also print what students read for failed tests")
    g.add_argument("--out", type=Path, metavar="DIR",
                   help="grade a batch into DIR (default for a batch: a new folder grades-YYYYmmdd-HHMMSS)")
    g.add_argument("-j", "--jobs", type=_positive, default=os.cpu_count() or 1, metavar="N",
                   help="batch: grade N submissions at once (default: %(default)s, the number of cores; as root, "
                        f"{accounts.GRADINGS_AT_ONCE} at most)")
    g.add_argument("--force", action="store_true", help="batch: regrade submissions already graded in DIR")
    g.add_argument("--one", action="store_true", help="grade all arguments as one submission, whatever they look like")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # Stopped by a batch, or by whoever runs us: leave no student program behind.
        signal.signal(signal.SIGTERM, _interrupted)
        signal.signal(signal.SIGINT, _interrupted)
    many = False
    if not args.one:  # here only: Gradescope says --one, and needs none of it
        from . import submissions

        many = args.out is not None or submissions.is_batch(args.submission)
    if many and args.results is not None:
        parser.error("--results is for one submission; a batch writes DIR/<submission>/results.json (see --out)")
    if many:
        from . import batch

        try:
            chosen = rubric.load(args.rubric)
        except rubric.ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        try:
            return batch.run(args.submission, chosen, (args.rubric or rubric.DEFAULT_FILE).resolve(), args.out,
                             args.jobs, args.force)
        except KeyboardInterrupt:  # a second Ctrl-C while the first was being handled
            print("interrupted again: the gradings still running stop by themselves", file=sys.stderr)
            return INTERRUPTED
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
    except KeyboardInterrupt:
        print("interrupted: the student programs were stopped, and no results were written", file=sys.stderr)
        return INTERRUPTED
    try:
        print(report.table(result, path))
        if args.verbose:
            for verdict in result.verdicts:
                if not verdict.passed:
                    print(f"\n=== {verdict.test.name}\n{verdict.output}")
        sys.stdout.flush()  # here, where a reader that left can be told from a grader that broke
    except BrokenPipeError:  # the table's reader left (`| head`): the results are written all the same
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit fails no more
    return 0
