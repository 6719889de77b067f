"""A working PingPong client2, to try your server against (step 2):  python client2.py

Run it in its own terminal, instead of client2_student.py, beside your
server and client1.py. It prints what your client2 will print once it
works. You do not need to change this file: it runs the checker's own
client2 (checker/reference.py).
"""

import sys

from checker import reference

sys.exit(reference.client2())
