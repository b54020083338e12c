"""Real-commit test bench: database copies and worker processes (see ``harness``)."""
