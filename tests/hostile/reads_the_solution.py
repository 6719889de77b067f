"""Looks for the reference solution wherever the grader might keep it, and prints what it finds.

Into client2 only, which then ends without answering. As root the solution is
closed to student programs: every attempt fails, and nothing of it reaches
the results.
"""
import os
import sys

guesses = ["@ROOT@/solution/server_student.py", "/autograder/source/solution/server_student.py"]
try:  # the warden's command line names the grader's folder
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as _stream:
        for _word in _stream.read().decode().split("\0"):
            _at = _word.find("/autograder'")
            if _at >= 0:  # sys.path.append('/.../autograder')
                _start = _word.rfind("'", 0, _at) + 1
                guesses.append(_word[_start:_at] + "/solution/server_student.py")
except OSError as error:
    print(f"STOLEN-FAILED: {error}")
_here = os.getcwd()
for _ in range(6):
    _here = os.path.dirname(_here)
    guesses.append(os.path.join(_here, "solution", "server_student.py"))
for guess in guesses:
    try:
        with open(guess, encoding="utf-8") as _stream:
            for _line in _stream:
                print("STOLEN:", _line.rstrip())
    except OSError as error:
        print(f"STOLEN-FAILED: {guess}: {error}")
sys.exit(1)
