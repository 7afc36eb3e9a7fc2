"""The one clock of lease logic (epoch seconds), so tests can move time forward."""
import time


def now() -> int:
    return int(time.time())
