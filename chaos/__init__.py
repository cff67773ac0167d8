"""The chaos harness: a real cluster of processes, a seeded schedule of faults, and invariants
checked while the faults run and after the cluster converges.

Run it with ``python -m chaos --seed 7``; a failing run prints its seed and replays from it.
"""
