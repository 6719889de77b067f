"""The course report and each submission's feedback, as pages a browser opens from disk.

This module writes them (the figures are course.py's, which knows nothing of pages).

Each page is one file: its style inline, its chart an SVG drawn here, no
script, nothing fetched. Everything from a results file is escaped: a
student's program chooses what it prints and what its files are called.
The feedback is the Markdown Gradescope shows the student, rendered by
markdown-it with raw HTML off, so what the student read is what the
instructor reads.
"""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path

from markdown_it import MarkdownIt

from . import course, gradebook, report
from .course import EXAMPLES, LABELS, Course, counts_line, link
from .rubric import Rubric

_MARKDOWN = MarkdownIt("commonmark", {"html": False})
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .3em .6em; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; }
code, pre { font: 13px/1.35 ui-monospace, monospace; } pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
.bar { fill: #3a78c2; } .axis { stroke: #888; } svg text { font: 12px system-ui, sans-serif; fill: #333; }
.meter { display: inline-block; height: .8em; background: #3a78c2; vertical-align: middle; }
.failed { color: #a00; } .passed { color: #070; } .small { color: #666; font-size: .9em; }
"""


def _page(title: str, body: list[str]) -> str:
    return "\n".join(["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>", *body, "</body></html>\n"])


def write(out: Path, rows: list[gradebook.Row], rubric: Rubric, run: course.Run) -> float:
    """Write the report, and every feedback page not yet written (a batch writes each as its grading
    ends); the seconds it took."""
    started = time.monotonic()
    for r in rows:
        feedback_page(out / r.submission, r.submission)
    figures = course.gather(out, rows, rubric, run)
    report.replace(out / "report.html", report_html(figures))
    report.replace(out / "scores.svg", chart(figures.bands))
    report.replace(out / "report.md", course.report_md(figures))
    return time.monotonic() - started


def chart(bands: list[tuple[str, int]]) -> str:
    """The score distribution as an SVG bar chart: one bar per band, its count above it."""
    width, height, left, bottom, top = 640, 240, 40, 40, 34  # the top: the axis's name, then the tallest count
    step = (width - left - 10) / max(1, len(bands))
    most = max((count for _, count in bands), default=0) or 1
    parts = [f'<svg id="scores" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="score distribution">',
             f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}"/>',
             '<text x="4" y="12">submissions</text>']
    for i, (label, count) in enumerate(bands):
        tall = (height - bottom - top) * count / most
        x, y = left + i * step + 3, height - bottom - tall
        parts += [f'<rect class="bar" data-count="{count}" x="{x:.1f}" y="{y:.1f}" width="{step - 6:.1f}" '
                  f'height="{tall:.1f}"><title>{escape(label)}: {count}</title></rect>',
                  f'<text x="{x + (step - 6) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{count}</text>',
                  f'<text x="{x + (step - 6) / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                  f"{escape(label)}</text>"]
    parts += [f'<text x="{width / 2:.0f}" y="{height - 6}" text-anchor="middle">score</text>', "</svg>"]
    return "\n".join(parts)


def _a(course: Course, submission: str) -> str:
    return f'<a class="feedback" href="{escape(link(submission))}">{escape(course.who(submission))}</a>'


def report_html(course: Course) -> str:
    n = gradebook.number
    body = ["<h1>Course report</h1>", f"<p>{escape(counts_line(course.run))}.</p>"]
    if course.mean is not None:
        body.append(f"<p>Mean {n(round(course.mean, 1))}, median {n(course.median)} (out of {n(course.maximum)}), "
                    f"over {course.graded} graded submissions.</p>")
    body += ["<h2>Scores</h2>", chart(course.bands) if course.bands else "<p>Nothing was graded.</p>",
             "<h2>Pass rate of each test</h2>",
             '<table id="pass-rates"><tr><th>test</th><th>passed</th><th>rate</th></tr>']
    for r in course.rates:
        share = r.passed / r.of if r.of else 0
        body.append(f"<tr><td>{escape(r.name)}</td><td class=n>{r.passed} of {r.of}</td><td>"
                    f'<span class="meter" style="width:{8 * share:.2f}em"></span> {100 * share:.0f} %</td></tr>')
    body += ["</table>", "<h2>Most common failures</h2>"]
    if course.failures:
        body.append('<table id="failures"><tr><th>count</th><th>tests failed</th>'
                    "<th>what went wrong (the hint given)</th>"
                    "<th>submissions</th></tr>")
        for f in course.failures:
            shown = ", ".join(_a(course, s) for s in f.submissions[:EXAMPLES])
            more = f" and {len(f.submissions) - EXAMPLES} more" if len(f.submissions) > EXAMPLES else ""
            body.append(f'<tr class="failure"><td class=n>{len(f.submissions)}</td><td>{escape(f.test)}</td>'
                        f"<td>{f'<code>{escape(f.hint)}</code>: ' if f.hint else ''}{escape(f.example)}</td>"
                        f"<td>{shown}{more}</td></tr>")
        body.append("</table>")
    else:
        body.append("<p>No test failed.</p>")
    body.append("<h2>Submissions that need a person</h2>")
    if course.attention:
        body.append('<table id="attention"><tr><th>submission</th><th>score</th><th>why</th></tr>')
        for a in course.attention:
            why = "<br>".join(f"<b>{escape(LABELS.get(kind, kind))}</b>: {escape(detail)}"
                              for kind, detail in a.reasons)
            body.append(f"<tr><td>{_a(course, a.submission)}</td><td class=n>{escape(a.score)}</td><td>{why}</td></tr>")
        body.append("</table>")
    else:
        body.append("<p>None.</p>")
    return _page("Course report", body)


def feedback_page(folder: Path, submission: str) -> None:
    """`folder`/feedback.html, from its results.json, unless it is already newer than them."""
    results, page = folder / "results.json", folder / "feedback.html"
    try:
        if page.stat().st_mtime_ns >= results.stat().st_mtime_ns:
            return
    except OSError:
        pass
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    report.replace(page, feedback_html(data, submission))


def _render(text: str, form: str) -> str:
    if form == "md":
        return _MARKDOWN.render(text)
    return f"<pre>{escape(text)}</pre>"


def feedback_html(data: dict, submission: str) -> str:
    """What the student reads on Gradescope, test by test; tests hidden from the student are marked so."""
    n = gradebook.number
    body = [f"<h1>Feedback: {escape(submission)}</h1>",
            '<p class="small"><a href="../report.html">course report</a></p>',
            _render(str(data.get("output", "")), data.get("output_format", "md"))]
    for test in data.get("tests", []):
        status, hidden = escape(str(test.get("status", ""))), test.get("visibility", "visible")
        seen = "" if hidden == "visible" else f' <span class="small">(the student sees it: {escape(hidden)})</span>'
        title = f'{test.get("number", "")}. {test.get("name", "")}'
        points = f"{n(float(test.get('score', 0)))}/{n(float(test.get('max_score', 0)))}"
        body += [f'<h2 class="{status}">{escape(title)} ({points}){seen}</h2>',
                 _render(str(test.get("output", "")), test.get("output_format", "md"))]
    return _page(f"Feedback: {submission}", body)
