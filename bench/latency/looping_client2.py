"""Bench only: a client2 that answers every Ping until the server goes."""

from utils2 import Client, Message

client = Client("client2")
while True:
    msg = client.receive_message()
    if msg is None:
        break
    if msg == Message.Ping:
        client.send_message(Message.Pong)
client.close()
