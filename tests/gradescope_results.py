"""Is it a results file Gradescope takes? Every test that makes one asks here.

The schema (gradescope_schema.json) says what each field is; the checks
below say what a schema cannot: the file is UTF-8 JSON under Gradescope's
1 MiB, a test never scores more than it is worth, a failed test scores
nothing, and the total is the sum of the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMA = json.loads(Path(__file__).with_name("gradescope_schema.json").read_text(encoding="utf-8"))
MAX_BYTES = 1024 * 1024
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def check(data: dict) -> dict:
    """`data` as Gradescope reads it, or an AssertionError that says what is wrong."""
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in _VALIDATOR.iter_errors(data)]
    assert not problems, "not Gradescope's results format:\n" + "\n".join(problems)
    size = len(json.dumps(data).encode("utf-8"))
    assert size < MAX_BYTES, f"results of {size} bytes; Gradescope takes less than {MAX_BYTES}"
    for test in data["tests"]:
        assert test["score"] <= test["max_score"], f"{test['name']}: {test['score']} > {test['max_score']}"
        if test["status"] == "failed":
            assert test["score"] == 0, f"{test['name']} failed and scored {test['score']}"
    if data["tests"]:
        total = sum(test["score"] for test in data["tests"])
        assert abs(data["score"] - total) < 1e-6, f"score {data['score']}, but the tests add up to {total}"
    return data


def check_file(path: Path) -> dict:
    """The results file at `path`, checked: under 1 MiB, UTF-8 JSON, Gradescope's format."""
    raw = path.read_bytes()
    assert len(raw) < MAX_BYTES, f"{path} holds {len(raw)} bytes; Gradescope takes less than {MAX_BYTES}"
    return check(json.loads(raw.decode("utf-8")))
