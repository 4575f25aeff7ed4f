"""Serving the web application: waitress request threads in one or more processes.

One Python process runs its request threads one at a time (the GIL), so with many clients one
process is the limit, not the search (a search takes 7–30 ms at a million pages). With
``workers`` > 1, `serve` binds the listening socket once and forks that many processes that
each run waitress, with its request threads, on it; the kernel hands each new connection to
whichever process accepts it first, so a busy process takes fewer. The parent only watches:
a worker that dies is replaced, SIGTERM or Ctrl+C stops them all.

What the processes share lives in files, not in memory: the index (SQLite, read only), the
usage register (each OUT folder's journal; every event is its own IMMEDIATE transaction that
reads the chain's head and appends to it, so the hash chain stays one chain whichever process
writes), QC decisions (the decision record: lines appended under a file lock), sign-in failures
(`digitize.web.lockout`), users (users.json, read again when it changes), the session key
(made before the workers start) and the page-image cache (files written atomically).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from types import FrameType

from flask import Flask
from waitress import create_server

log = logging.getLogger(__name__)
BACKLOG = 1024


def can_fork() -> bool:
    return hasattr(os, "fork")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def run_server(app: Flask, sock: socket.socket, threads: int, workers: int = 1) -> None:
    """Serve `app` on the listening socket until stopped: in this process (workers=1), or in
    `workers` forked processes watched by this one."""
    if workers <= 1:
        _serve(app, sock, threads)
        return
    if not can_fork():
        raise OSError("more than one worker process needs fork(), which this system lacks")
    children: set[int] = set()
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _kill(pid)

    # the handlers come first: a SIGTERM while the workers start still stops them all
    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        while len(children) < workers and not stopping:
            children.add(_spawn(app, sock, threads))
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            children.discard(pid)
            if not stopping:
                log.warning("server process %d ended (status %d); starting another", pid, status)
                children.add(_spawn(app, sock, threads))
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for pid in children:
            _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _spawn(app: Flask, sock: socket.socket, threads: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:  # the worker: default signals (SIGTERM ends it), waitress on the shared socket
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the parent, which stops us
        _serve(app, sock, threads)
    except BaseException:
        log.exception("server process %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _serve(app: Flask, sock: socket.socket, threads: int) -> None:
    server = create_server(app, sockets=[sock], threads=threads, ident="digitize")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
