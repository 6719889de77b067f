"""The rules of the exchange, stated once, and how a trace measures up to them.

    R1  The server passes on only what it received: every frame that reaches
        a client was sent, earlier, by the other client, and each is passed
        on once.
    R2  client2 answers each Ping that reaches it with one Pong, after the
        Ping arrived, and sends nothing else.

They live in the handout's `referee.py`, the one copy that both this grader
and the students' self-check (`assignment/check.py`) judge by, so the two
cannot disagree. Only the harness's log is read; nothing a student program
printed.
"""

from __future__ import annotations

from .handout import referee
from .scenario import Trace

Judgement = referee.Judgement
CHECKS = referee.CHECKS


def judge(test: str, trace: Trace) -> Judgement:
    """Did the test's step happen in its scene, and did the program it grades keep its rule?"""
    return referee.judge(test, trace.events, trace.greeted_as)
