"""Loops forever, on the CPU, before anything else: stopped when its scene's time is up."""
while True:
    pass
