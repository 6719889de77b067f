"""Is a student program ready for a message? Asked of the kernel, not the program.

The harness hands a student program a message only once it is waiting for
one: every thread blocked, none running, none sleeping by the clock (a
program that sleeps and then sends a Pong it was never asked for is not
waiting for a Ping). The answer, READY, BUSY or SLEEPING, is read from
/proc by the handout's `referee.py`, so the students' self-check waits
exactly as the grader does. Linux only; elsewhere every program is BUSY and
the harness falls back on its time bound.
"""

from __future__ import annotations

from .handout import referee

READY, BUSY, SLEEPING = referee.READY, referee.BUSY, referee.SLEEPING
state = referee.state
can_see_waiting = referee.can_see_waiting
