"""Reads standard input first, which is empty: client2 reads nothing and plays fair; the server
asks for a line with input(), gets EOFError at once and crashes. Nothing hangs."""
import sys

if "client2" in sys.argv[0]:
    sys.stdin.read()
else:
    input("press Enter: ")
