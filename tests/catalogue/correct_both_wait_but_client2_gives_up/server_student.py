"""The PingPong server: it passes messages between client1 and client2.

Run it first, in its own terminal:  python server_student.py
"""

from utils2 import Message, Server

server = Server()  # returns once client1 and client2 have both connected

# Your part: pass the messages along.
#   1. Receive the Ping that client1 sends.
#   2. Forward it to client2.
#   3. Receive the Pong that client2 sends back.
#   4. Forward it to client1.
# The calls you need: server.receive_message(), which returns the next
# Message from either client, and server.forward_message(msg), which sends
# msg to the other client (server.send_message(msg) would send it back).
# *** start ***
while True:
    msg = server.receive_message()
    if msg is None:
        break
    server.forward_message(msg)
# *** end ***

server.close()
