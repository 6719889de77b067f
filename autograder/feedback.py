"""What a student reads about one test: the exchange as it happened, the step
that went wrong, one hint, and the end of their program's own output.

Everything here is drawn from the harness's log and the program's exit; the
student's printed lines are shown, never believed.
"""

from __future__ import annotations

import re

from . import readiness
from .handout import referee
from .rules import Judgement
from .sandbox import ProgramRun
from .scenario import Limits, Trace
from .scene import NEVER

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


def hint(test: str, trace: Trace, judgement: Judgement, limits: Limits) -> referee.Advice:
    """One piece of advice, for the most telling thing that went wrong, with its name (for the course report)."""
    if trace.missing:
        return referee.Advice("file-missing", f"Upload a file named {trace.missing[0]}: the grader could not find it.")
    runs = [(name, run) for name, run in program_output(trace) if name in _accountable(trace)]
    crashed = next(((name, run) for name, run in runs if run.crashed), None)
    stopped = next((name for name, run in runs if run.killed), "")
    limited = next(((name, run) for name, run in runs if run.limit), None)
    if limited:
        return referee.Advice("limit", f"Your {limited[0]} {limited[1].limit}, which the grader does not allow: "
                              "a correct program needs far less.")
    if trace.dropped and not crashed:
        return referee.Advice("second-connection", f"Your program connected to the server a second time as "
                              f"{trace.dropped[0]}; the server drops a second client of the same name, so nothing "
                              "sent on that connection arrives. Use the one client the file makes at the top.")
    sleeping = next((name for name, _ in runs if trace.undelivered.get(name) == readiness.SLEEPING), "")
    return referee.advice(judgement, crashed=crashed[0] if crashed else "",
                        crash_where=referee.crash_place(crashed[1].traceback) if crashed else "",
                        stopped=stopped, seconds=limits.scenario_seconds, flooded=bool(trace.unlogged),
                        sleeping=sleeping)


def _accountable(trace: Trace) -> tuple[str, ...]:
    """The student programs whose run can explain a failure in this scene.

    Together, once the Ping has reached client2 and client2 has sent nothing
    back, or the Ping waited to the end for a client2 sleeping by the clock,
    the exchange waits on client2 alone: the server that then stops because
    client2 left is not the one to look at.
    """
    mine = ROLE_OF[trace.scenario]
    if trace.scenario == "together":
        delivered = any(e.frame == "Ping" and e.dst == "client2" and e.passed != NEVER for e in trace.events)
        held = trace.undelivered.get("client2") == readiness.SLEEPING
        if held or (delivered and not any(e.src == "client2" for e in trace.events)):
            return ("client2",)
    return mine


def program_output(trace: Trace) -> list[tuple[str, ProgramRun]]:
    return [(name, trace.runs[name]) for name in ROLE_OF[trace.scenario] if name in trace.runs]


def _block(text: str) -> list[str]:
    """A Markdown code block that the program's own backticks cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text, fence]


def render(expected: str, trace: Trace, judgement: Judgement, told: referee.Advice) -> str:
    """The Markdown a student reads for a failed test, `told` the hint."""
    parts = [f"**Expected:** {expected}.", "", "**What happened** (as the grader saw it on the network):",
             "```text", picture(trace, judgement) if not trace.missing else "(not run)", "```",
             "", f"**Hint:** {told.text}"]
    if judgement.broken or judgement.missing:
        parts.insert(1, "")
        parts.insert(2, f"**Went wrong:** {judgement.broken.why if judgement.broken else judgement.missing}.")
    for name, run in program_output(trace):
        status = ("still running, so it was stopped" if run.killed
                  else f"exited with status {run.returncode}")
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
