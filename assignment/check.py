"""Check your PingPong programs before you submit them:  python check.py

Run it in this folder, beside your server_student.py and client2_student.py.
It runs four checks in three runs, each with real programs on your own computer:

  1. your client2, with the server played by this checker;
  2. your server, with client1 and client2 played by this checker: one check for
     forwarding the Ping, one for forwarding the Pong;
  3. your server and your client2 together, with client1 played by this checker.

Each check says PASS or FAIL. A failed one shows the exchange as the checker
saw it on the network, what went wrong, a hint, and the end of what your
program printed. The checker plays the same scenes, judges by the same rules
and gives the same hints as the autograder: the files in checker/ are the
autograder's own. It exits with status 0 only if every check passed.

You do not need to change this file, or anything in checker/.
Standard library only, Python 3.8+.
"""

import os
import sys

from checker import feedback, referee, scenario, waiting
from checker.programs import Processes
from checker.scene import QUIET_SECONDS

HERE = os.path.dirname(os.path.abspath(__file__))
STUDENT_FILES = ("server_student.py", "client2_student.py")
LIMITS = scenario.Limits()
AUTOGRADER_ALSO = (
    "The autograder also checks what this cannot: it runs the two files you upload, with its own "
    "utils2.py and client1.py (your changes to those are not used), against its own reference programs, "
    "with limits on time and memory, and it reports any change outside the "
    "'# *** start ***' / '# *** end ***' markers.")
NOT_WATCHED = (
    " On this computer the checker cannot see when your program waits for a message (only Linux shows "
    "it), so its timing checks are weaker here: it waits for {:g} s of silence instead. The autograder "
    "sees it exactly, and a program that sends before it is asked fails there.".format(QUIET_SECONDS))
QUEUES_UNSEEN = (
    " On this computer the checker cannot ask the system what your program's connections still hold, so it "
    "takes what your program wrote as sent, and what it was sent as read. The autograder asks.")


def main():
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # your programs' output may not fit the console
    print("Checking the PingPong programs in {}".format(HERE), flush=True)
    files = {name: os.path.join(HERE, name) if os.path.isfile(os.path.join(HERE, name)) else None
             for name in STUDENT_FILES}
    traces = scenario.play_all(files, LIMITS, Processes(HERE))
    failed = 0
    for check, (name, expected) in feedback.CHECKS.items():
        trace = traces[referee.CHECKS[check][0]]
        judgement = feedback.judge(check, trace)
        print("{}  {}".format("PASS" if judgement.passed else "FAIL", name), flush=True)
        warning = feedback.warning(trace, LIMITS) if judgement.passed else None
        if warning is not None:
            print("      Warning: " + warning.text, flush=True)
        if not judgement.passed:
            failed += 1
            print(feedback.failure(expected, trace, judgement, LIMITS, feedback.CHECKER).text(), flush=True)
    print()
    print("All {} checks passed.".format(len(feedback.CHECKS)) if not failed
          else "{} of {} checks failed.".format(failed, len(feedback.CHECKS)))
    print(AUTOGRADER_ALSO + ("" if waiting.can_see_waiting() else NOT_WATCHED)
          + ("" if waiting.can_see_queues() else QUEUES_UNSEEN))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every scene ends at once, and stops your programs first
        print("check.py: stopped by Ctrl+C", file=sys.stderr)
        sys.exit(130)
