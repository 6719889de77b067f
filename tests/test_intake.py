"""What students upload, and what intake makes of it: the files, a note, or a clear refusal.

Most cases call `intake.take` directly (no program runs). Those where the
message or the score matters to a student are graded whole, and a refused
upload must score 0 with nothing written outside intake's folder.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder import grading, intake, rubric
from autograder.handout import SOLUTION, STUDENT_FILES

SERVER, CLIENT2 = STUDENT_FILES
SOURCES = {name: (SOLUTION / name).read_bytes() for name in STUDENT_FILES}


def make_zip(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zipped.writestr(info, target)
    return path


def take(tmp_path: Path, *sources: Path) -> intake.Intake:
    return intake.take(list(sources), tmp_path / "work" / "intake")


def assert_solution(taken: intake.Intake) -> None:
    assert taken.problem == "", taken
    for name in STUDENT_FILES:
        assert taken.files[name] is not None, taken
        assert taken.files[name].read_bytes() == SOURCES[name]


def everything_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize("layout", ["zip at its root", "zip of a folder", "bare files", "a folder",
                                    "a zip in a folder"])
def test_every_way_of_uploading_gives_the_same_files(tmp_path, layout):
    if layout == "zip at its root":
        sources = [make_zip(tmp_path / "upload.zip", SOURCES)]
    elif layout == "zip of a folder":
        sources = [make_zip(tmp_path / "upload.zip", {f"pingpong/{n}": d for n, d in SOURCES.items()})]
    elif layout == "bare files":
        sources = [tmp_path / name for name in STUDENT_FILES]
        for name, data in SOURCES.items():
            (tmp_path / name).write_bytes(data)
    else:
        folder = tmp_path / "submission"
        folder.mkdir()
        if layout == "a folder":
            for name, data in SOURCES.items():
                (folder / name).write_bytes(data)
        else:
            make_zip(folder / "pingpong.zip", SOURCES)
        sources = [folder]
    taken = take(tmp_path, *sources)
    assert_solution(taken)
    assert taken.texts == []


def test_mac_and_editor_leftovers_are_ignored(tmp_path):
    junk = {"__MACOSX/pingpong/._server_student.py": b"\x00\x05\x16\x07 not python",
            "pingpong/.DS_Store": b"\x00\x00\x00\x01Bud1", "pingpong/server_student.py~": b"old",
            "pingpong/.server_student.py.swp": b"b0VIM", "pingpong/#client2_student.py#": b"autosave",
            "pingpong/server_student.py.bak": b"backup", "pingpong/__pycache__/server_student.cpython-311.pyc": b"",
            ".git/HEAD": b"ref: refs/heads/main\n"}
    upload = make_zip(tmp_path / "upload.zip", {**junk, **{f"pingpong/{n}": d for n, d in SOURCES.items()}})
    taken = take(tmp_path, upload)
    assert_solution(taken)
    assert taken.texts == []


@pytest.mark.parametrize("server_name", ["Server_Student.py", "server_student (1).py", "server_student.py.txt",
                                         "server-student.py", "server_student - Copy.py", "SERVER_STUDENT.PY"])
def test_a_near_miss_is_used_with_a_warning(tmp_path, server_name):
    upload = make_zip(tmp_path / "upload.zip", {server_name: SOURCES[SERVER], CLIENT2: SOURCES[CLIENT2]})
    taken = take(tmp_path, upload)
    assert_solution(taken)
    assert taken.texts == [f"Used {server_name!r} as {SERVER}: please name it exactly {SERVER} next time."]


def test_the_exact_name_wins_over_a_near_miss(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {"server_student (1).py": b"broken(", **SOURCES})
    taken = take(tmp_path, upload)
    assert_solution(taken)
    assert taken.texts == []


def test_a_missing_file_is_named(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {SERVER: SOURCES[SERVER], "client.py": b"print()"})
    taken = take(tmp_path, upload)
    assert taken.problem == "" and taken.files[CLIENT2] is None and taken.files[SERVER] is not None
    assert taken.texts == [f"{CLIENT2} was not found in your submission; the tests that need it score 0. "
                           f"Name the file exactly {CLIENT2}."]


def test_own_copies_of_the_library_are_ignored_with_a_note(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {**SOURCES, "utils2.py": b"cheating = True\n"})
    taken = take(tmp_path, upload)
    assert_solution(taken)
    assert taken.texts == ["Your utils2.py was ignored: the grader always uses its own copy."]
    assert [note.kind for note in taken.notes] == ["ignored"]  # not a concern: grading.Concern


def test_own_copy_of_the_checker_folder_is_ignored_with_one_note(tmp_path):
    """The whole handout, zipped with the work: its checker/ changes nothing that runs."""
    upload = make_zip(tmp_path / "upload.zip", {**{f"pingpong/{name}": data for name, data in SOURCES.items()},
                                                "pingpong/checker/referee.py": b"def judge(*a): return True\n",
                                                "pingpong/checker/scene.py": b"\n"})
    taken = take(tmp_path, upload)
    assert_solution(taken)
    assert taken.texts == ["Your checker/ folder was ignored: the grader always uses its own."]
    assert [note.kind for note in taken.notes] == ["ignored"]


@pytest.mark.parametrize("bom, newline", [(b"", b"\n"), (b"\xef\xbb\xbf", b"\n"), (b"", b"\r\n"),
                                          (b"\xef\xbb\xbf", b"\r\n")], ids=["utf8-lf", "bom-lf", "utf8-crlf", "bom-crlf"])
def test_a_bom_or_crlf_line_ends_change_nothing(tmp_path, bom, newline):
    upload = make_zip(tmp_path / "upload.zip",
                      {name: bom + data.replace(b"\n", newline) for name, data in SOURCES.items()})
    taken = take(tmp_path, upload)
    assert_solution(taken)  # as the grader runs them: UTF-8, LF


def test_a_bom_and_crlf_submission_scores_full_marks(tmp_path):
    upload = make_zip(tmp_path / "upload.zip",
                      {name: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n") for name, data in SOURCES.items()})
    grade = grading.grade([upload], rubric.load())
    assert grade.score == grade.max_score, [v.output for v in grade.verdicts if not v.passed]


@pytest.mark.parametrize("data, words", [
    ("# café\n".encode("latin-1") + SOURCES[SERVER], ["is not UTF-8 text (line 1 holds a byte that cannot be read: "
                                                       "b'\\xe9')", "Save it as UTF-8"]),
    (SOURCES[SERVER].decode().encode("utf-16"), ["is saved as UTF-16", "Save it as UTF-8"]),
], ids=["latin-1", "utf-16"])
def test_undecodable_source_gets_a_clear_message(tmp_path, data, words):
    taken = take(tmp_path, make_zip(tmp_path / "upload.zip", {SERVER: data, CLIENT2: SOURCES[CLIENT2]}))
    assert taken.files[SERVER] is None and taken.files[CLIENT2] is not None
    assert len(taken.texts) == 1 and taken.texts[0].startswith(f"{SERVER} ")
    for text in words:
        assert text in taken.texts[0]


def test_a_file_far_too_big_is_not_run(tmp_path):
    big = SOURCES[SERVER] + b"#" * (intake.MAX_FILE_BYTES + 1)
    taken = take(tmp_path, make_zip(tmp_path / "upload.zip", {SERVER: big, CLIENT2: SOURCES[CLIENT2]}))
    assert taken.files[SERVER] is None
    assert taken.texts == [f"upload.zip/{SERVER} is larger than 1 MiB, so it could not be run; the handout's is "
                           "a few KiB: is it the right file?"]


def refused(tmp_path: Path, source: Path, *words: str) -> None:
    """Graded whole: score 0, a message with `words`, and nothing written outside intake's folder."""
    (tmp_path / "outside").mkdir(exist_ok=True)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    before = everything_under(tmp_path) - everything_under(workdir)
    grade = grading.grade([source], rubric.load(), workdir=workdir)
    assert grade.score == 0
    for text in words:
        assert text in grade.problem, grade.problem
    after = everything_under(tmp_path) - everything_under(workdir)
    assert after == before, "intake wrote outside its folder"
    assert not list((workdir / "intake").rglob("*.py")), "a refused upload was unpacked"


def test_a_zip_that_climbs_out_is_refused(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {**SOURCES, "../../outside/evil.py": b"x = 1\n"})
    refused(tmp_path, upload, "has an entry that points outside the zip ('../../outside/evil.py'); it was refused")
    assert not (tmp_path / "outside" / "evil.py").exists()


@pytest.mark.parametrize("name", ["/tmp/pingpong-intake-evil.py", "C:/Windows/evil.py", "..\\..\\evil.py"])
def test_a_zip_with_an_absolute_path_is_refused(tmp_path, name):
    refused(tmp_path, make_zip(tmp_path / "upload.zip", {**SOURCES, name: b"x = 1\n"}),
            "has an entry that points outside the zip")
    assert not Path("/tmp/pingpong-intake-evil.py").exists()


def test_a_zip_holding_a_symbolic_link_is_refused(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {CLIENT2: SOURCES[CLIENT2]},
                      links={SERVER: str(SOLUTION / SERVER)})
    refused(tmp_path, upload, f"holds a symbolic link ('{SERVER}'); it was refused")


def test_a_symbolic_link_in_a_folder_is_refused(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / CLIENT2).write_bytes(SOURCES[CLIENT2])
    (folder / SERVER).symlink_to(SOLUTION / SERVER)
    refused(tmp_path, folder, f"{SERVER} is a symbolic link, not a file")


def test_a_zip_with_too_many_files_is_refused(tmp_path):
    entries = {f"junk/{i}.txt": b"" for i in range(intake.MAX_ENTRIES + 1)}
    refused(tmp_path, make_zip(tmp_path / "upload.zip", {**SOURCES, **entries}),
            f"holds {intake.MAX_ENTRIES + 3} files; at most {intake.MAX_ENTRIES} are accepted")


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {**SOURCES, "bomb.bin": bytes(intake.MAX_BYTES + 1)})
    refused(tmp_path, upload, "unpacks to more than 50 MiB")


def test_a_zip_that_lies_about_its_sizes_is_refused(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {CLIENT2: SOURCES[CLIENT2], SERVER: bytes(2 * intake.MAX_FILE_BYTES)})
    data = bytearray(upload.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local and central headers
        at = data.rfind(signature)
        data[at + offset:at + offset + 4] = (100).to_bytes(4, "little")  # "server_student.py: 100 bytes"
    upload.write_bytes(bytes(data))
    refused(tmp_path, upload, "upload.zip could not be unpacked (Bad CRC-32")


def test_too_many_bytes_are_refused_as_they_are_written(tmp_path):
    """A folder declares no sizes: many near misses, each within the size of one file, too many bytes together."""
    folder = tmp_path / "submission"
    folder.mkdir()
    for i in range(intake.MAX_BYTES // intake.MAX_FILE_BYTES + 1):
        (folder / f"server_student ({i}).py").write_bytes(b"#" * intake.MAX_FILE_BYTES)
    refused(tmp_path, folder, "the submission unpacks to more than 50 MiB")


@pytest.mark.parametrize("name, data, words", [
    ("homework.pdf", b"%PDF-1.7\n...", ["homework.pdf (a PDF document)"]),
    ("pingpong.rar", b"Rar!\x1a\x07\x01\x00", ["pingpong.rar (a RAR archive)"]),
    ("pingpong.zip", b"this is not a zip", ["pingpong.zip could not be unpacked", "Compress"]),
    ("notes.txt", b"I did my best", ["notes.txt (not a zip)"]),
    ("empty.zip", None, ["a zip (empty.zip), which holds no files"]),
], ids=["pdf", "rar", "broken-zip", "text", "empty-zip"])
def test_what_is_not_a_submission_scores_0_and_says_what_was_received(tmp_path, name, data, words):
    source = tmp_path / name
    if data is None:
        make_zip(source, {})
    else:
        source.write_bytes(data)
    refused(tmp_path, source, *words)
    grade = grading.grade([source], rubric.load())
    if "could not be unpacked" not in words[0]:
        assert f"Expected {intake.EXPECTED}" in grade.problem


def test_a_zip_of_other_files_says_what_it_holds(tmp_path):
    upload = make_zip(tmp_path / "upload.zip", {"main.py": b"", "notes.txt": b"", "README.md": b""})
    refused(tmp_path, upload, "we received a zip (upload.zip), holding upload.zip/main.py, upload.zip/notes.txt, "
                              "upload.zip/README.md; none of it is server_student.py or client2_student.py")


def test_an_empty_folder_scores_0(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    refused(tmp_path, folder, "we received a folder (submission), which holds no files")


def test_intakes_folder_is_closed_to_others(tmp_path):
    taken = take(tmp_path, make_zip(tmp_path / "upload.zip", SOURCES))
    assert stat.S_IMODE(taken.files[SERVER].parent.parent.stat().st_mode) == 0o700





def test_a_pipe_in_a_folder_is_not_read(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    for name, data in SOURCES.items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "server_student (1).py")  # opening it to read would wait for a writer for ever
    assert_solution(take(tmp_path, folder))
