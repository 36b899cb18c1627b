"""What the tests' Python checks share:
  * check() prints each result and keeps the failures; finish() ends the check with its verdict (exit 1 after any
    failure);
  * run() runs a program with a time limit, its output captured;
  * free_port(), start_server(), stop() and serving(): a server on 127.0.0.1 started by the check, waited for until
    its port accepts, and stopped by its PID; peer() is the command line of one of tests/peers/;
  * case_functions(), parse_case() and in_temp_dir(): a check's cases (its case_NAME functions), its command line
    (--case NAME and the paths it is given) and a scratch directory removed afterwards."""
import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, with flask, aiohttp, numpy, scipy and prometheus_client; not a pyenv one
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def finish(passed="all checks passed"):
    """Ends the check: exit 1 naming how many checks failed, or exit 0 with `passed`."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print(passed)
    sys.exit(0)


def run(argv, timeout=120, env=None, echo=False):
    """argv run to its end (killed past `timeout` seconds), stdout and stderr captured as text."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if echo:
        print(f"$ {' '.join(argv)}  -> exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peer(script, *args):
    """The command line of the peer server tests/peers/SCRIPT under Debian's python3."""
    return [PYTHON, os.path.join(HERE, "peers", script), *args]


def start_server(argv, port=None, limit_s=20):
    """Starts the server argv (stdout discarded, stderr kept in a file for the reason it ended: a pipe nobody reads
    would stall a server that logs every request) and, given its port of 127.0.0.1, returns once the port accepts a
    connection; ends the check naming the program when the server exits first or does not listen within `limit_s`.
    Without a port it returns at once (the program under test waits for it)."""
    errors = tempfile.TemporaryFile("w+")
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors)
    name = os.path.basename(argv[1] if argv[0] == PYTHON else argv[0])
    deadline = time.time() + limit_s
    while port is not None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if p.poll() is not None:
                errors.seek(0)
                sys.exit(f"{name} exited: {errors.read()}")
            if time.time() > deadline:
                p.kill()
                sys.exit(f"{name} did not listen on {port} within {limit_s} s")
            time.sleep(0.05)
    return p


def stop(p, limit_s=10):
    """Ends a process this check started, by its PID: SIGTERM, then SIGKILL when it is still there after limit_s."""
    if p.poll() is None:
        p.terminate()
    try:
        p.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


@contextlib.contextmanager
def serving(argv, port=None, limit_s=20):
    """start_server() for a with-block; the server is stopped when the block ends, however it ends."""
    p = start_server(argv, port, limit_s)
    try:
        yield p
    finally:
        stop(p)


def case_functions(namespace):
    """{NAME: case_NAME} of a check's module (its globals())."""
    return {name[5:]: f for name, f in namespace.items() if name.startswith("case_")}


def parse_case(cases, *paths):
    """The check's command line: --case NAME (one of `cases`) and one required flag for each of `paths` (e.g. "--bin"),
    its value made absolute."""
    parser = argparse.ArgumentParser()
    for flag in paths:
        parser.add_argument(flag, required=True, type=os.path.abspath)
    parser.add_argument("--case", required=True, choices=sorted(cases))
    return parser.parse_args()


def in_temp_dir(case, chdir=False):
    """case(tmp) in a fresh temporary directory (its working directory too with `chdir`), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        if chdir:
            os.chdir(tmp)
        case(tmp)
