"""Bench only: a server that forwards every message until both clients leave."""

from utils2 import Server

server = Server()
while True:
    msg = server.receive_message()
    if msg is None:
        break
    server.forward_message(msg)
server.close()
