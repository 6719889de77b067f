"""Grading a whole course: many submissions, each in a process of its own, into one gradebook.

Each submission is graded by `python -m autograder grade --one ...` in a
worker process with its own session, N at a time. A submission that breaks
the grader fails only its own row; gradings share no port (the kernel picks
each scene's) and no folder (each makes its own). Each results file is
written atomically when its grading ends and the gradebook is rewritten
after every one, so an interrupted batch keeps everything it finished, and
the next run grades only the rest.

Ctrl-C (or SIGTERM) is passed on to the running workers as SIGTERM: each ends its
scenes at once, killing every student program it started, and leaves no
results; the batch waits for them before it exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from . import INTERRUPTED, accounts, course, export, gradebook, pages, report
from .handout import ROOT
from .rubric import Rubric
from .submissions import Submission, collect


# --- grading them --------------------------------------------------------------


class Batch:
    """The running batch: workers in flight, and how to stop them all."""

    def __init__(self, out: Path, rubric: Rubric, rubric_file: Path, jobs: int) -> None:
        self.out = out
        self.rubric = rubric
        self.rubric_file = rubric_file
        self.jobs = jobs
        limits = rubric.limits
        # Scenes run side by side, each bounded; this only catches a grader that is itself stuck.
        self.bound = 2 * (limits.scenario_seconds + limits.settle_seconds + limits.exit_seconds) + 30
        self.lock = threading.Lock()
        self.running: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def grade(self, sub: Submission) -> gradebook.Row | None:
        """Grade one submission in a worker process; None if the batch was interrupted first."""
        folder = self.out / sub.id
        results, log = folder / "results.json", folder / "grader.log"
        before = _stamp(results)
        command = [sys.executable, "-m", "autograder", "grade", "--one", *map(str, sub.sources),
                   "--results", str(results), "--rubric", str(self.rubric_file)]
        started = time.monotonic()
        with self.lock:
            if self.stopping:
                return None
            folder.mkdir(parents=True, exist_ok=True)
            with open(log, "wb") as errors:
                worker = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=errors, start_new_session=True)
            self.running[sub.id] = worker
        try:
            code = worker.wait(timeout=self.bound)
        except subprocess.TimeoutExpired:
            code = None
            self._end(worker)
        finally:
            with self.lock:
                del self.running[sub.id]
        seconds = time.monotonic() - started
        data = gradebook.read(results) if _stamp(results) != before else None
        if data is None:
            if self.stopping:
                log.unlink(missing_ok=True)
                if not any(folder.iterdir()):
                    folder.rmdir()
                return None
            data = report.failure(self._why(code, log), seconds)
            report.write(data, results)
        if log.exists() and log.stat().st_size == 0:
            log.unlink()
        try:
            pages.feedback_page(folder, sub.id)  # here, while other gradings run, not all at the end
        except Exception:  # noqa: BLE001 - the grading's results stand; the report tries the page again
            _broke(f"the feedback page of {sub.id} could not be written; its results are whole")
        return gradebook.row(sub.id, sub.submitters, data, self.rubric)

    def _why(self, code: int | None, log: Path) -> str:
        if code is None:
            return f"the grader did not finish within {self.bound:g} s and was stopped"
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        last = f": {lines[-1].strip()}" if lines else ""
        return f"the grader process ended with status {code} and wrote no results{last}"

    def _end(self, worker: subprocess.Popen) -> None:
        """Ask a worker to stop its scenes (which kills its student programs); force it if it will not."""
        try:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=self.bound / 2)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except OSError:
                pass
            worker.wait()

    def stop(self) -> int:
        """Interrupt every running worker; return how many were running."""
        with self.lock:
            self.stopping = True
            running = list(self.running.values())
        for worker in running:
            try:
                worker.send_signal(signal.SIGTERM)
            except OSError:
                pass
        return len(running)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_ino


class Progress:
    """A bar redrawn in place on a terminal; one plain line per submission otherwise."""

    def __init__(self, total: int, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.total, self.done, self.started = total, 0, time.monotonic()

    def step(self, r: gradebook.Row) -> None:
        self.done += 1
        if self.tty:
            filled = round(30 * self.done / max(1, self.total))
            elapsed = int(time.monotonic() - self.started)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}  "
                              f"{elapsed // 60}:{elapsed % 60:02}")
        else:
            result = (f"{r.total:g}/{r.max:g}" if r.status == gradebook.GRADED_STATUS else f"ERROR: {r.reason}")
            self.stream.write(f"[{self.done}/{self.total}] {r.submission}: {result} ({r.seconds:.1f} s)\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


def run(paths: list[Path], rubric: Rubric, rubric_file: Path, out: Path | None, jobs: int, force: bool) -> int:
    """Grade every submission in `paths` into `out`; the exit status for the command line."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"error: nothing was found at {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    out = out or _fresh_folder()
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "rubric.toml"
    used = rubric_file.read_text(encoding="utf-8")
    if stamp.exists() and stamp.read_text(encoding="utf-8") != used and not force:
        print(f"error: {out} was graded with another rubric; give --force to regrade everything there, "
              "or choose another --out", file=sys.stderr)
        return 2
    stamp.write_text(used, encoding="utf-8")
    scratch = Path(tempfile.mkdtemp(prefix="pingpong-batch-"))
    try:
        try:
            submissions, notes = collect(paths, scratch)
        except export.ExportError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        jobs, note = at_once(jobs)
        if note:
            notes.append(note)
        with accounts.closed(out):  # as root: other students' programs must not read what it holds
            return _grade_all(submissions, notes, Batch(out, rubric, rubric_file, jobs), force)
    except accounts.SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def at_once(jobs: int) -> tuple[int, str]:
    """How many gradings to run at once for `-j jobs`, and a note if that is fewer.

    As root, every student program runs as a sandbox user no other program
    has, and there are `accounts.SLOTS` of them: more gradings at once than
    they cover would wait for a user, then fail ("all 64 sandbox users stayed
    busy"). A machine's default of one grading per core reaches that at 17 cores.
    """
    jobs = max(1, jobs)
    most = accounts.GRADINGS_AT_ONCE
    if jobs <= most or not accounts.as_root():
        return jobs, ""
    return most, (f"grading {most} at a time, not {jobs}: as root, each student program runs as a sandbox user "
                  f"of its own, there are {accounts.SLOTS}, and a grading runs up to {accounts.PROGRAMS_AT_ONCE} "
                  "programs at once")


def _fresh_folder() -> Path:
    base = Path(time.strftime("grades-%Y%m%d-%H%M%S"))
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path


def _grade_all(submissions: list[Submission], notes: list[str], batch: Batch, force: bool) -> int:
    started = time.monotonic()
    rows: dict[str, gradebook.Row] = {}
    todo = []
    for sub in submissions:
        data = None if force else gradebook.read(batch.out / sub.id / "results.json")
        if gradebook.is_graded(data):
            rows[sub.id] = gradebook.row(sub.id, sub.submitters, data, batch.rubric)
        else:
            todo.append(sub)
    csv_path = batch.out / "grades.csv"
    _write_gradebooks(rows, batch, csv_path)
    for note in notes:
        print(f"note: {note}")
    skipped_count = len(rows)
    skipped = f"; {len(rows)} already graded there, skipped (--force regrades them)" if rows else ""
    print(f"Grading {len(todo)} of {len(submissions)} submissions, {batch.jobs} at a time, into {batch.out}{skipped}.")
    progress = Progress(len(todo))
    interrupted = False
    with ThreadPoolExecutor(max_workers=batch.jobs) as pool:
        futures = [pool.submit(batch.grade, sub) for sub in todo]
        recorded: set = set()
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    _record(future.result(), rows, batch, csv_path, progress)
                    recorded.add(future)
        except KeyboardInterrupt:
            interrupted = True
            progress.end()
            print(f"\nInterrupted: stopping the {batch.stop()} grading(s) in progress ...", flush=True)
            for future in futures:
                if future not in recorded and not future.cancel():
                    _record(future.result(), rows, batch, csv_path, None)
    if not interrupted:
        progress.end()
    failed = sum(r.status == gradebook.ERROR_STATUS for r in rows.values())
    run = course.Run(time.monotonic() - started, len(submissions), len(rows) - skipped_count - failed, skipped_count,
                     failed, interrupted)
    told = _write_report(batch, list(rows.values()), run)  # before anything is printed: stdout may be closed
    try:
        print(gradebook.summary(list(rows.values()), len(submissions)))
        print(f"gradebook: {csv_path} (a row per submission), {csv_path.with_name('students.csv')} (a row per "
              "student)")
        if told:
            print(told)
        if interrupted:
            print(f"Run the same command with --out {batch.out} to grade the rest.", flush=True)
    except BrokenPipeError:
        _unheard()
    if interrupted:
        return INTERRUPTED
    return 1 if failed else 0


def _write_report(batch: Batch, rows: list[gradebook.Row], run: course.Run) -> str:
    """The course report, written; what to print of it, or "" if it broke (said on stderr)."""
    try:
        seconds = pages.write(batch.out, rows, batch.rubric, run)
    except Exception:  # noqa: BLE001 - the grades are written; a report that breaks must not lose them
        _broke("the course report could not be written; the gradebook and results are whole")
        return ""
    return (f"report: {batch.out / 'report.html'} (and report.md, written in {seconds:.2f} s); each submission's "
            f"feedback: {batch.out / '<submission>' / 'feedback.html'}")


def _broke(what: str) -> None:
    import traceback

    traceback.print_exc()
    print(f"error: {what}", file=sys.stderr)


def _record(r: gradebook.Row | None, rows: dict, batch: Batch, csv_path: Path, progress: Progress | None) -> None:
    if r is None:
        return
    rows[r.submission] = r
    _write_gradebooks(rows, batch, csv_path)
    if progress is not None:
        try:
            progress.step(r)
        except BrokenPipeError:
            _unheard()


def _unheard() -> None:
    """Whoever read stdout has gone (`| head`): what the batch prints goes nowhere, and the batch goes on."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def _write_gradebooks(rows: dict, batch: Batch, csv_path: Path) -> None:
    gradebook.write_csv(list(rows.values()), batch.rubric, csv_path)
    gradebook.write_students_csv(list(rows.values()), batch.rubric, csv_path.with_name("students.csv"))
