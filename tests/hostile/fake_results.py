"""Writes a results.json giving itself 1000 points wherever results might live, then plays fair.

The real results are written by the grader after every student program is
gone, where no student program can write; as root nothing it wrote
outside its own folder is left either.
"""
import json
import os

_fake = json.dumps({"score": 1000, "tests": [], "output": "@TOKEN@"})
_places = [os.getcwd(), "/autograder/results", "@RESULTS@", "/tmp", "/var/tmp", "/dev/shm"]
_here = os.getcwd()
for _ in range(6):
    _here = os.path.dirname(_here)
    _places.append(_here)
for _place in _places:
    try:
        os.makedirs(_place, exist_ok=True)
        with open(os.path.join(_place, "results.json"), "w") as _stream:
            _stream.write(_fake)
    except OSError:
        pass
