print('client1: the Ping went round and came back as a Pong. Done.')
