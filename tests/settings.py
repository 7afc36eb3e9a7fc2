"""How long tests wait: one setting, generous, so a slow or busy machine never fails a test.

Tests assert outcomes, never speed; a wait only bounds a hang (pytest-timeout is the backstop).
"""
import os

# Seconds an HTTP request of a test may take before it is given up on.
HTTP_TIMEOUT = float(os.environ.get("TEST_HTTP_TIMEOUT", "240"))
# Milliseconds a page may take to show what a browser test waits for.
UI_TIMEOUT_MS = int(float(os.environ.get("TEST_UI_TIMEOUT", "90")) * 1000)
