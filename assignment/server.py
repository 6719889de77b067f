"""A working PingPong server, to try your client2 against (step 1):  python server.py

Run it first, in its own terminal, instead of server_student.py; then your
client2 and client1.py in two more. It prints what your server will print
once it works. You do not need to change this file: it runs the checker's
own server (checker/reference.py).
"""

import sys

from checker import reference

sys.exit(reference.server())
