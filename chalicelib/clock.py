"""The one clock of the service (epoch seconds), so tests can move time forward: leases,
tokens, invites, records' timestamps all read it."""
import time


def now() -> int:
    return int(time.time())


def now_exact() -> float:
    """With the fraction of a second: for ids that sort by creation time (exports)."""
    return time.time()
