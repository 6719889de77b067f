"""What check.py needs to check your programs: you do not need to read or change these files.

The autograder grades with these same files (its own copies: changing them
here changes nothing there), so check.py and the autograder play the same
scenes, judge by the same rules and give the same hints:

    scene.py      the checker's side of the network: it plays the other
                  programs, hands messages over, and writes down every frame
    scenario.py   the three scenes, each a short script
    programs.py   how check.py starts your programs and stops them
    waiting.py    is a program waiting for a message? (asked of the system)
    referee.py    the rules, and the verdict on what crossed the network
    advice.py     the hint for a check that failed
    feedback.py   what you read about a check: built once, as text or Markdown
    region.py     your part of each file, between the markers, and its step
    reference.py  a working server and client2: what server.py and client2.py run

Standard library only, Python 3.8 or newer.
"""
