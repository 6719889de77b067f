"""What a student reads about one test: the exchange as it happened, the step
that went wrong, one hint, and the end of their program's own output.

Everything here is drawn from the harness's log and the program's exit; the
student's printed lines are shown, never believed.
"""

from __future__ import annotations

import re

from .handout import advice, referee
from .rules import Judgement
from .sandbox import ProgramRun
from .scenario import Limits, Trace

ROLE_OF = referee.ROLES_OF
EXPECTED = [
    "client1 --Ping--> server",
    "                  server --Ping--> client2",
    "                  server <--Pong-- client2",
    "client1 <--Pong-- server",
]


def picture(trace: Trace, judgement: Judgement) -> str:
    """The exchange, one numbered line per frame, the bad step marked."""
    return referee.picture(trace.scenario, trace.events, judgement, unlogged=trace.unlogged)


def hint(test: str, trace: Trace, judgement: Judgement, limits: Limits) -> advice.Advice:
    """One piece of advice, for the most telling thing that went wrong (see advice.hint)."""
    if trace.missing:
        return advice.Advice("file-missing", f"Upload a file named {trace.missing[0]}: the grader could not find it.")
    runs = program_output(trace)
    focus = [(name, run) for name, run in runs if name == advice.holder(trace.events)] or runs
    limited = next(((name, run) for name, run in focus + runs if run.limit), None)
    if limited:
        return advice.Advice("limit", f"Your {limited[0]} {limited[1].limit}, which the grader does not "
                                            "allow: a correct program needs far less.")
    if trace.dropped and not any(run.crashed for _, run in focus):
        return advice.Advice("second-connection", f"Your program connected to the server a second time as "
                            f"{trace.dropped[0]}; the server drops a second client of the same name, so nothing sent "
                            "on that connection arrives. Use the one client the file makes at the top.")
    return advice.hint(judgement, trace.events, seen(trace), seconds=limits.scenario_seconds,
                       flooded=bool(trace.unlogged), held=trace.undelivered, out_of_time=trace.out_of_time,
                       closed=trace.closed)


def seen(trace: Trace) -> list[advice.Seen]:
    """Each student program of the scene as advice.hint takes it. One stopped by a limit did not end by itself
    either: it was busy (a limit is reached by working), and only a machine's speed decides whether it reaches
    it before the harness stops it."""
    return [advice.Seen(name, None if run.killed else run.returncode, run.traceback, trace.at_end.get(name, ""),
                        run.at_stop if run.killed else "" if run.ended_by_itself else advice.BUSY)
            for name, run in program_output(trace)]


def warning(trace: Trace, limits: Limits) -> advice.Advice | None:
    """For a test that passed: a program of the scene that did not end by itself after the exchange."""
    return advice.ending(seen(trace), limits.exit_seconds)


def program_output(trace: Trace) -> list[tuple[str, ProgramRun]]:
    return [(name, trace.runs[name]) for name in ROLE_OF[trace.scenario] if name in trace.runs]


def _block(text: str) -> list[str]:
    """A Markdown code block that the program's own backticks cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text, fence]


def render(expected: str, trace: Trace, judgement: Judgement, told: advice.Advice) -> str:
    """The Markdown a student reads for a failed test, `told` the hint."""
    parts = [f"**Expected:** {expected}.", "", "**What happened** (as the grader saw it on the network):",
             "```text", picture(trace, judgement) if not trace.missing else "(not run)", "```",
             "", f"**Hint:** {told.text}"]
    if judgement.broken or judgement.missing:
        parts.insert(1, "")
        parts.insert(2, f"**Went wrong:** {judgement.broken.why if judgement.broken else judgement.missing}.")
    for (name, run), program in zip(program_output(trace), seen(trace)):
        status = ("still running, so it was stopped" if run.killed
                  else f"exited with status {run.returncode}{advice.after_the_stop(program, trace.out_of_time)}")
        parts += ["", f"**Your {name}** {status}."]
        if run.traceback:
            parts += _block(run.traceback[-3000:])
        tail = run.stdout.tail(15)
        if tail:
            parts += [f"Last lines it printed{' (some output was left out)' if run.stdout.dropped else ''}:",
                      *_block(tail)]
        elif run.stderr.text and not run.traceback:
            parts += ["What it printed to stderr:", *_block(run.stderr.tail(15))]
    return "\n".join(parts)
