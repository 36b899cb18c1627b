"""What the tests' Python checks share: check() prints each result and keeps the failures; free_port() finds a
port of 127.0.0.1 for a server the check starts."""
import socket

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
