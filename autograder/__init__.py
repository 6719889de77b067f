"""The PingPong autograder.

A submission flows one way:

    intake     the upload (zip, folder or files) -> the two student files
    scenario   three scenes, side by side, each with real processes on loopback;
               the harness (scene) plays the reference roles and logs every frame
    rules      each test judged on that log, against two rules stated once
    feedback   what the student reads: the exchange drawn, the broken step, a hint
    report     Gradescope's results.json and a terminal table

`grading.grade()` runs that flow for one submission; `cli` is the command line.
`rubric.toml` is the one file an instructor edits.
"""

INTERRUPTED = 130  # the command line's exit status when stopped by Ctrl-C (128 + SIGINT), as shells report it
