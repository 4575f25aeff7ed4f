"""Who is asking: the application's shared state (`WebContext`), the signed-in user and the
role check of every view. The views (`digitize.web.reading`, `digitize.web.qcreview`) and the
application factory (`digitize.web.app`) build on this module."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for

from digitize.search.index import ArchiveIndex
from digitize.web.lockout import MAX_FAILURES, SignInFailures
from digitize.web.usage import UsageJournals
from digitize.web.users import User, UserStore

__all__ = ["MAX_FAILURES", "WebContext", "context", "current_user", "login_required"]


@dataclass
class WebContext:
    archive: Path
    users: UserStore
    local: threading.local = field(default_factory=threading.local)
    usage: UsageJournals = field(default_factory=UsageJournals)
    failures: SignInFailures = field(init=False)

    def __post_init__(self) -> None:
        self.failures = SignInFailures(self.archive)

    def index(self) -> ArchiveIndex:
        """This thread's connection to the archive index."""
        index = getattr(self.local, "index", None)
        if index is None:
            index = ArchiveIndex(self.archive)
            self.local.index = index
        return index

    def locked_out(self, name: str, remote: str) -> bool:
        return self.failures.locked_out(name, remote)

    def failed(self, name: str, remote: str) -> None:
        self.failures.failed(name, remote)


def context() -> WebContext:
    return current_app.extensions["digitize"]


def current_user() -> User | None:
    if "user" not in g:
        user = context().users.get(session.get("user", ""))
        g.user = user if user is not None and session.get("stamp") == user.session_stamp else None
    return g.user


def login_required(role: str = "reader") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Sign-in first; then the role (reader < inspector < admin), else 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("login", next=request.full_path if request.query_string else request.path))
            if not user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate
