"""Allocates gigabytes, 100 MiB at a time, before anything else."""
hoard = [bytes(100 * 2**20) for _ in range(40)]
