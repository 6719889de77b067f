"""Prints tens of megabytes before playing fair: 40 MB from the server (kept, head and tail),
100 MB from client2, more than a program may write (64 MiB): client2 is stopped there."""
import sys

for _ in range(100 if "client2" in sys.argv[0] else 40):
    sys.stdout.write(("0123456789" * 100 + "\n") * 1000)
