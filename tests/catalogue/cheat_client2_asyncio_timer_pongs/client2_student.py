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
import asyncio


async def answer():
    loop = asyncio.get_running_loop()
    receiving = loop.run_in_executor(None, client.receive_message)
    await asyncio.sleep(0.5)  # the event loop's timer, not the Ping, sends the Pong
    client.send_message(Message.Pong)
    await receiving


asyncio.run(answer())
# *** end ***

client.close()
