"""What you read about a check: built once, then written as plain text (check.py) or Markdown (the autograder).

A failed check is told by a `Failure`: what should have happened, the step
that went wrong, the exchange as the referee saw it on the network, one hint,
and how each of your programs ended and what it printed. Everything in it
comes from the referee's log and the programs' exits; what your programs
printed is shown, never believed.

Standard library only, Python 3.8 or newer.
"""

from __future__ import annotations  # the types below are read by people, not run

import re
from dataclasses import dataclass, replace

from . import advice, referee

# The checks judged on a scene: what check.py calls each, and what should happen.
CHECKS = {
    "client2_answers": ("your client2 answers a Ping with a Pong",
                        "your client2 receives the Ping and answers it with one Pong"),
    "server_forwards_ping": ("your server forwards the Ping from client1 to client2",
                             "your server receives client1's Ping and forwards it, once, to client2"),
    "server_forwards_pong": ("your server forwards the Pong from client2 to client1",
                             "your server receives client2's Pong and forwards it, once, to client1"),
    "together": ("your server and your client2 complete the exchange together",
                 "client1's Ping reaches your client2 through your server, and its Pong comes back to client1"),
}
TAIL_LINES, TRACEBACK_CHARS = 15, 3000  # of what a program printed, shown


@dataclass(frozen=True)
class Voice:
    """Who tells you: the words that differ between check.py and the autograder."""

    witness: str  # "the checker", "the grader"
    others: str  # in the exchange's picture, the roles the witness plays
    missing: str  # the hint for a file that was not there, "{}" its name


CHECKER = Voice("the checker", "checker", "Put {} beside check.py: it could not be found.")
GRADER = Voice("the grader", "reference", "Upload a file named {}: the grader could not find it.")


def judge(check, trace):
    """referee.judge on the check's scene; a scene that could not run for want of a file fails."""
    if trace.missing:
        return referee.Judgement(False, missing="{} is missing".format(trace.missing[0]))
    return referee.judge(check, trace.events, trace.greeted_as)


def runs(trace):
    """Your programs of the scene, in a fixed order: (name, programs.Run) each."""
    return [(name, trace.runs[name]) for name in referee.ROLES_OF[trace.scenario] if name in trace.runs]


def seen(trace):
    """Your programs of the scene as advice.hint takes them. One stopped by a limit did not end by itself
    either: it was busy (a limit is reached by working), and only a machine's speed decides whether it
    reaches it before the scene stops it."""
    return [advice.Seen(name, None if run.killed else run.returncode, run.traceback, trace.at_end.get(name, ""),
                        run.at_stop if run.killed else "" if run.ended_by_itself else advice.BUSY, run.compared)
            for name, run in runs(trace)]


def warning(trace, limits):
    """For a check that passed: a program of the scene that did not end by itself after the exchange."""
    return advice.ending(seen(trace), limits.exit_seconds)


def hint(trace, judgement, limits, voice):
    """One piece of advice, for the most telling thing that went wrong (see advice.hint)."""
    if trace.missing:
        return advice.Advice("file-missing", voice.missing.format(trace.missing[0]))
    programs = runs(trace)
    focus = [(name, run) for name, run in programs if name == advice.holder(trace.events)] or programs
    limited = next(((name, run) for name, run in focus + programs if run.limit), None)
    if limited:
        return advice.Advice("limit", "Your {} {}, which {} does not allow: a correct program needs far "
                                      "less.".format(limited[0], limited[1].limit, voice.witness))
    if trace.dropped and not any(run.crashed for _, run in focus):
        return advice.Advice("second-connection", "Your program connected to the server a second time as {}; the "
                             "server drops a second client of the same name, so nothing sent on that connection "
                             "arrives. Use the one client the file makes at the top.".format(trace.dropped[0]))
    return advice.hint(judgement, trace.events, seen(trace), seconds=limits.scenario_seconds,
                       flooded=bool(trace.unlogged), held=trace.undelivered, out_of_time=trace.out_of_time,
                       stuck=trace.stuck, closed=trace.closed)


@dataclass(frozen=True)
class Shown:
    """One of your programs, as a failed check shows it."""

    name: str
    ended: str  # "exited with status 1", "was still running, so it was stopped"
    traceback: str
    printed: str  # the last lines it printed
    cut: bool  # some of its output was left out
    stderr: str  # what it printed to stderr, shown where there is no traceback and nothing printed
    at: tuple = ()  # where it was once its run was over: (place, code) each, its main thread first
    doing: str = ""  # what it was doing there, in words ("waiting for a message", "busy")


@dataclass(frozen=True)
class Failure:
    """A failed check. `see`: the name of an earlier check of the same report that failed for the same
    cause (see Said): this one then says so in one line, instead of the hint and the programs again."""

    expected: str
    hint: advice.Advice
    went_wrong: str = ""
    picture: str = ""  # the exchange drawn ("": not run)
    witness: str = ""
    programs: tuple = ()  # Shown each
    see: str = ""

    @property
    def cause(self):
        """What makes two failures one: the same hint, word for word."""
        return self.hint.key, self.hint.text

    def text(self, indent="      "):
        """For a terminal: indented under check.py's FAIL line, what a program printed a step further."""
        lines = ["Expected: {}.".format(self.expected)]
        if self.went_wrong:
            lines.append("Went wrong: {}.".format(self.went_wrong))
        if self.see:
            lines.append(_SEE.format(self.see))
            return "\n".join(indent + line for line in lines)
        if self.picture:
            lines += ["What happened (as {} saw it on the network):".format(self.witness), _indented(self.picture)]
        lines.append("Hint: " + self.hint.text)
        for program in self.programs:
            lines.append("Your {} {}.".format(program.name, program.ended))
            for place, code in program.at:
                lines += ["It was {} at {}:".format(program.doing, place), _indented(code)]
            if program.traceback:
                lines.append(_indented(program.traceback))
            lines += _said(program, lambda head, text: [head, _indented(text)])
        return "\n".join(line if line.startswith(" ") else indent + line for line in lines)

    def markdown(self):
        """For a web page (Gradescope, the course's feedback pages)."""
        parts = ["**Expected:** {}.".format(self.expected)]
        if self.went_wrong:
            parts += ["", "**Went wrong:** {}.".format(self.went_wrong)]
        if self.see:
            return "\n".join(parts + ["", _SEE.format(self.see)])
        if self.picture:
            parts += ["", "**What happened** (as {} saw it on the network):".format(self.witness),
                      *_block(self.picture)]
        parts += ["", "**Hint:** " + self.hint.text]
        for program in self.programs:
            parts += ["", "**Your {}** {}.".format(program.name, program.ended)]
            for place, code in program.at:
                parts += ["It was {} at {}:".format(program.doing, place), *_block(code)]
            parts += _block(program.traceback) if program.traceback else []
            parts += _said(program, lambda head, text: [head, *_block(text)])
        return "\n".join(parts)


_DOING = {advice.WAITING: "waiting for a message", advice.BUSY: "busy, running",
          advice.SLEEPING: "asleep or waiting for something else"}  # a State, by the word it equals
_SEE = "Same cause as \"{}\": its hint, above, explains this one too."


class Said:
    """The causes one report has explained so far: a failure whose cause an earlier check of the report
    explained refers to that check, in one line (check.py and the autograder alike)."""

    def __init__(self):
        self.first = {}

    def __call__(self, name, failure):
        """`failure`, the check called `name`, as the report shows it."""
        first = self.first.setdefault(failure.cause, name)
        return failure if first == name else replace(failure, see=first)


def failure(expected, trace, judgement, limits, voice):
    """What you read about a check that failed."""
    told = hint(trace, judgement, limits, voice)
    if trace.missing:
        return Failure(expected, told)
    broken = judgement.broken.why if judgement.broken else judgement.missing
    picture = referee.picture(trace.scenario, trace.events, judgement, others=voice.others, unlogged=trace.unlogged)
    shown = []
    for (name, run), program in zip(runs(trace), seen(trace)):
        from_the_stop = advice.stopped_waiting(program, trace.out_of_time)  # its error: not the program's own
        ended = "was still running, so it was stopped" if run.killed else "exited with status {}{}".format(
            run.returncode, ", once the run was stopped while it waited (the error that stop caused is not "
                            "shown)" if from_the_stop else "")
        doing, where = trace.stopped_at.get(name, ("", ()))
        at = tuple(tuple(place.split(": ", 1)) if ": " in place else (place, "") for place in where)
        errors = run.errors.rstrip("\n").split("\n")[-TAIL_LINES:] if run.errors.strip() else []
        shown.append(Shown(name, ended, "" if from_the_stop else run.traceback[-TRACEBACK_CHARS:],
                           run.stdout.tail(TAIL_LINES), bool(run.stdout.dropped),
                           "" if from_the_stop else "\n".join(errors), at, _DOING.get(doing, "")))
    return Failure(expected, told, broken, picture, voice.witness, tuple(shown))


def _said(program, written):
    """What the program printed, under its heading, as `written(heading, text)` writes it."""
    if program.printed:
        return written("Last lines it printed{}:".format(" (some output was left out)" if program.cut else ""),
                       program.printed)
    if program.stderr and not program.traceback:
        return written("What it printed to stderr:", program.stderr)
    return []


def _indented(text, by="        "):
    return "\n".join(by + line for line in text.rstrip("\n").split("\n"))


def _block(text):
    """A Markdown code block that the program's own backticks cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", text, fence]
