"""The PingPong autograder.

A submission flows one way:

    intake     the upload (zip, folder or files) -> the two student files
    scene      the handout's three scenes (assignment/checker/), side by side, each
               with real processes on loopback, started in the sandbox; the harness
               plays the reference roles and logs every frame
    grading    each test judged on that log by the handout's referee, and what the
               student reads (the handout's feedback, as Markdown)
    report     Gradescope's results.json and a terminal table

`grading.grade()` runs that flow for one submission; `cli` is the command line.
`rubric.toml` is the one file an instructor edits.
"""

INTERRUPTED = 130  # the command line's exit status when stopped by Ctrl-C (128 + SIGINT), as shells report it
