"""What a student reads about one test: the exchange as it happened, the step
that went wrong, one hint, and the end of their program's own output.

Everything here is drawn from the harness's log and the program's exit; the
student's printed lines are shown, never believed.
"""

from __future__ import annotations

import re

from .rules import Judgement
from .sandbox import ProgramRun
from .scenario import Limits, Trace

ROLE_OF = {"client2": ("client2",), "server": ("server",), "together": ("server", "client2")}
EXPECTED = [
    "client1 --Ping--> server",
    "                  server --Ping--> client2",
    "                  server <--Pong-- client2",
    "client1 <--Pong-- server",
]


def _line(frame: str, src: str, dst: str) -> str:
    shown = frame[:40]
    if "client1" in (src, dst):
        arrow = f"--{shown}-->" if src == "client1" else f"<--{shown}--"
        return f"client1 {arrow} server"
    arrow = f"<--{shown}--" if src == "client2" else f"--{shown}-->"
    return f"                  server {arrow} client2"


def picture(trace: Trace, judgement: Judgement) -> str:
    """The exchange, one numbered line per frame, the bad step marked."""
    yours = ROLE_OF[trace.scenario]
    cast = ", ".join(f"{role}: {'yours' if role in yours else 'reference'}" for role in ("client1", "server", "client2"))
    lines = [f"({cast})"]
    for number, event in enumerate(trace.events, 1):
        text = f"{number:2}. {_line(event.frame, event.src, event.dst)}"
        if judgement.broken and judgement.broken.index == number - 1:
            text = f"{text:50} <-- wrong: {judgement.broken.why}"
        lines.append(text)
    if judgement.step and not judgement.broken:
        lines.append(f"{len(trace.events) + 1:2}. {_line(*judgement.step):46} <-- expected, never happened")
    return "\n".join(lines)


def hint(test: str, trace: Trace, judgement: Judgement, limits: Limits) -> str:
    """One piece of advice, for the most telling thing that went wrong."""
    if trace.missing:
        return f"Upload a file named {trace.missing[0]}: the grader could not find it."
    for name in ROLE_OF[trace.scenario]:
        run = trace.runs.get(name)
        if run and run.crashed:
            where = _last_frame(run)
            return f"Your {name} stopped with an error{where}: read the traceback below."
    if judgement.broken:
        why = judgement.broken.why
        if "back to" in why:
            return ("server.send_message(msg) answers the client you last heard from; "
                    "to pass a message on to the other client, use server.forward_message(msg).")
        if "before any Ping" in why:
            return "Wait for the Ping first: msg = client.receive_message(), and answer only once it has arrived."
        if "second Pong" in why or "more than it received" in why:
            return "Send each message once: one Ping in, one Ping out; one Pong in, one Pong out."
        if "before" in why:
            return "Only pass on what you received: receive the message first, then forward that message."
        return "client2 answers a Ping with Message.Pong, and sends nothing else."
    if judgement.missing.startswith("client2 connected saying"):
        return 'Create your client as Client("client2"): the server tells the clients apart by that name.'
    for name in ROLE_OF[trace.scenario]:
        run = trace.runs.get(name)
        if run and run.killed:
            return (f"Your {name} was still running after {limits.scenario_seconds:g} s without doing this step: "
                    "it may be waiting for a message that never comes, or stuck in a loop.")
    return "Your program ended before this step: check that your code between the markers does each step in order."


def _last_frame(run: ProgramRun) -> str:
    """' (line N of your_file.py)' from the traceback, if there is one."""
    found = ""
    for line in run.traceback.splitlines():
        line = line.strip()
        if line.startswith('File "') and "_student.py" in line:
            parts = line.split('"')
            found = f" (line {line.split('line ')[-1].split(',')[0]} of {parts[1].split('/')[-1]})"
    return found


def program_output(trace: Trace) -> list[tuple[str, ProgramRun]]:
    return [(name, trace.runs[name]) for name in ROLE_OF[trace.scenario] if name in trace.runs]


def _block(text: str) -> list[str]:
    """A Markdown code block that the program's own backticks cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text, fence]


def render(test: str, expected: str, trace: Trace, judgement: Judgement, limits: Limits) -> str:
    """The Markdown a student reads for a failed test."""
    parts = [f"**Expected:** {expected}.", "", "**What happened** (as the grader saw it on the network):",
             "```text", picture(trace, judgement) if not trace.missing else "(not run)", "```",
             "", f"**Hint:** {hint(test, trace, judgement, limits)}"]
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
