"""Check your PingPong programs before you submit them, step by step:

  python check.py client2   step 1: your client2, with the server played by the checker:
                            does it answer the Ping with one Pong? (one check)
  python check.py server    step 2: your server, with client1 and client2 played by the
                            checker: does it forward the Ping to client2, and the Pong
                            back to client1? (two checks)
  python check.py           everything: both steps, then your server and your client2
                            together, with client1 played by the checker (four checks)

Run it in this folder, beside your server_student.py and client2_student.py.
Each check says PASS or FAIL. A failed one shows the exchange as the checker
saw it on the network, what went wrong, a hint, and the end of what your
program printed. A file whose part is still empty gets one line, TODO, for
all its checks. The checker plays the same scenes, judges by the same rules
and gives the same hints as the autograder: the files in checker/ are the
autograder's own, and its time limits and which checks need your programs to
end by themselves after the exchange are your course's (checker/rubric.json,
written from the autograder's rubric).

Exit status: 0 if every check it ran passed, 1 if one failed or is not done
yet, 2 if the command was not understood.

You do not need to change this file, or anything in checker/.
Standard library only, Python 3.8+.
"""

import argparse
import errno
import json
import os
import sys

from checker import feedback, referee, region, scenario, waiting
from checker.programs import Processes
from checker.scene import QUIET_SECONDS

HERE = os.path.dirname(os.path.abspath(__file__))
STUDENT_FILES = ("server_student.py", "client2_student.py")
STEPS = {"client2": "your client2 (step 1)", "server": "your server (step 2)"}  # a scene each
RUBRIC = os.path.join(HERE, "checker", "rubric.json")  # the course's `make dist` writes it from its rubric


def course():
    """The scenes' time limits, and the checks that fail where your programs do not end by themselves after
    the exchange, as the autograder's rubric sets them; without RUBRIC (the handout as it is in the course's
    repository), the default rubric's."""
    if not os.path.isfile(RUBRIC):
        return scenario.Limits(), frozenset()
    with open(RUBRIC, encoding="utf-8") as file:
        chosen = json.load(file)
    return scenario.Limits(**chosen["limits"]), frozenset(chosen["must_end"])


LIMITS, MUST_END = course()
AUTOGRADER_ALSO = (
    "The autograder also checks what this cannot: it runs the two files you upload with its own "
    "utils2.py (your changes to it, or to client1.py, are not used), with limits on time and memory, "
    "and it reports any change outside the '# *** start ***' / '# *** end ***' markers.")
NOT_WATCHED = (
    " On this computer the checker cannot see when your program waits for a message (only Linux shows "
    "it), so its timing checks are weaker here: it waits for {:g} s of silence instead, and a run where "
    "your programs wait on each other goes on to its time limit ({:g} s). The autograder sees it exactly, "
    "and a program that sends before it is asked fails there.".format(QUIET_SECONDS, LIMITS.scenario_seconds))
QUEUES_UNSEEN = (
    " On this computer the checker cannot ask the system what your program's connections still hold, so it "
    "takes what your program wrote as sent, and what it was sent as read. The autograder asks.")


def step(argv=None):
    """The step asked for ("client2", "server"), or None: everything. A wrong command exits 2, with the usage."""
    parser = argparse.ArgumentParser(prog="python check.py", usage="python check.py [client2 | server]",
                                     description=__doc__.split("\n\nRun it")[0],
                                     epilog="Exit status:" + __doc__.split("\n\nExit status:")[1].split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False)
    parser.add_argument("step", nargs="?", choices=tuple(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("-h", "--help", action="help", help=argparse.SUPPRESS)
    return parser.parse_args(argv).step


def say(text=""):
    """Print a line; once the reader has gone (`python check.py | head`), print nothing more, quietly."""
    try:
        print(text, flush=True)
    except OSError as error:  # a closed pipe: BrokenPipeError, or EINVAL on Windows
        if not isinstance(error, BrokenPipeError) and error.errno != errno.EINVAL:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv=None):
    chosen = step(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # your programs' output may not fit the console
    say("Checking {} in {}".format(STEPS.get(chosen, "the PingPong programs"), HERE))
    files = {name: os.path.join(HERE, name) if os.path.isfile(os.path.join(HERE, name)) else None
             for name in STUDENT_FILES}
    checks = [check for check in feedback.CHECKS if chosen in (None, referee.CHECKS[check][0])]
    traces = scenario.play_all(files, LIMITS, Processes(HERE),
                               tuple(dict.fromkeys(referee.CHECKS[check][0] for check in checks)))
    failed, not_done, said = 0, [], feedback.Said()
    for check in checks:
        name, expected = feedback.CHECKS[check]
        trace = traces[referee.CHECKS[check][0]]
        judgement = feedback.judge(check, trace)
        empty = None if judgement.passed else region.not_written(check, files)
        if empty is not None:  # one line for the file, whichever of its checks comes first
            if empty.text not in not_done:
                say("TODO  " + empty.text)
            not_done.append(empty.text)
            continue
        warning = feedback.warning(trace, LIMITS) if judgement.passed else None
        passed = judgement.passed and (warning is None or check not in MUST_END)
        say("{}  {}".format("PASS" if passed else "FAIL", name))
        if passed and warning is not None:
            say("      Warning: " + warning.text)
        if not passed:
            failed += 1
            say(said(name, feedback.unended(expected, warning) if judgement.passed
                     else feedback.failure(expected, trace, judgement, LIMITS, feedback.CHECKER)).text())
    say()
    say(summary(len(checks), failed, len(not_done)))
    say(AUTOGRADER_ALSO + ("" if waiting.can_see_waiting() else NOT_WATCHED)
        + ("" if waiting.can_see_queues() else QUEUES_UNSEEN))
    return 1 if failed or not_done else 0


def summary(checks, failed, not_done):
    if not failed and not not_done:
        return "The check passed." if checks == 1 else "All {} checks passed.".format(checks)
    if checks == 1:
        return "The check failed." if failed else "The check is not done yet."
    told = ["{} of {} checks failed".format(failed, checks)] if failed else []
    if not_done:
        told.append("{} {} not done yet".format(not_done, "is" if not_done == 1 else "are")
                    if failed else "{} of {} checks are not done yet".format(not_done, checks))
    return "; ".join(told) + "."


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every scene ends at once, and stops your programs first
        print("check.py: stopped by Ctrl+C", file=sys.stderr)
        sys.exit(130)
