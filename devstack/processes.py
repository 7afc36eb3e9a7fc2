"""Child processes in their own process groups, and waiting for HTTP readiness.

Each child leads a new session, so a terminal's Ctrl-C reaches only our supervisor
(which then stops things in order), and stopping a child kills its whole group:
nothing it forked (a chalice worker, say) can outlive the stack.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


class ProcessFailed(RuntimeError):
    pass


def spawn(name, argv, env, cwd, log_dir=None):
    """Start argv in a new session; output goes to <log_dir>/<name>.log, else is inherited."""
    output = log_path = None
    if log_dir is not None:
        os.makedirs(log_dir, exist_ok=True)
        log_path = os.path.join(log_dir, f"{name}.log")
        output = open(log_path, "ab")
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT if output else None)
    finally:
        if output:
            output.close()  # the child holds its own copy
    proc.name, proc.log_path = name, log_path
    return proc


def stop_group(proc, timeout):
    """SIGTERM the process group, SIGKILL it after timeout seconds, and reap the leader."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    # Also covers children the leader left behind when it exited on SIGTERM.
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def wait_http(url, proc, timeout):
    """Poll url until it answers 200; fail early if proc exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ProcessFailed(f"{proc.name} exited with {proc.returncode} before {url} answered"
                                + log_hint(proc))
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise ProcessFailed(f"{proc.name}: {url} did not answer within {timeout} s"
                                + log_hint(proc))
        time.sleep(0.1)


def log_hint(proc):
    """Where to look when proc failed."""
    return f" (see {proc.log_path})" if proc.log_path else ""


def free_ports(count):
    """Ports the OS had free just now; all held open together so they differ."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
