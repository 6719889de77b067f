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
import socket

msg = client.receive_message()
if msg == Message.Ping:
    client.send_message(Message.Pong)
client._link.sock.settimeout(0.4)  # anything more? wait 0.4 s at most, then end
try:
    client.receive_message()
except socket.timeout:
    pass
# *** end ***

client.close()
