"""`digitize serve ARCHIVE`: the web application (Flask, Jinja2 templates, Chinese interface).

Flask because every request here is short, synchronous SQLite and file work (a search, a
page image, a journal event): a WSGI application served by a thread pool (waitress) fits it
without an event loop, and Flask's signed session cookie, Jinja2's autoescaping and
Flask-WTF's CSRF protection are the well-kept pieces the application needs.

Security, in one place:
* sign-in: users from ARCHIVE/users.json (`digitize.web.users`, Argon2id hashes); after
  `MAX_FAILURES` failed attempts for one name from one address, that pair waits
  `LOCKOUT_SECONDS` (`digitize.web.lockout`, counted in ARCHIVE/signin.sqlite, so across all
  server processes); the session cookie is signed (key in ARCHIVE/web-secret.key, mode 0600),
  HttpOnly, SameSite=Lax (Secure with ``--secure-cookie``), 8 hours, and stops working when
  the user's password, role or clearance changes;
* every POST carries a CSRF token (Flask-WTF `CSRFProtect`, for the whole application);
* documents and their files are reached by index id only; files are paths the index recorded,
  resolved and required to lie inside their OUT folder; a document the user may not see
  gets the same 404 page as one that does not exist;
* responses are not cached (``no-store``), carry a strict Content-Security-Policy (no script
  at all, styles from the application only), no referrer, no framing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from digitize.search.index import ArchiveIndex
from digitize.web.auth import MAX_FAILURES, WebContext, context, current_user
from digitize.web.qcreview import qc
from digitize.web.reading import reading
from digitize.web.users import ROLE_LABELS, USERS_FILE, UserStore

SECRET_FILE = "web-secret.key"
__all__ = ["MAX_FAILURES", "create_app"]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _secret_key(archive: Path) -> bytes:
    path = archive / SECRET_FILE
    if not path.is_file():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="ascii")
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _safe_next(target: str | None) -> str:
    """Only a path of this application (no scheme, no host, no '//') may follow sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("reading.search_page")


def create_app(archive: str | Path, users_file: str | Path | None = None, secure_cookie: bool = False) -> Flask:
    archive = Path(archive)
    ArchiveIndex(archive).close()  # fail now, with the message, when the index is missing
    app = Flask("digitize.web", template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=_secret_key(archive),
        SESSION_COOKIE_NAME="digitize_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookie,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    CSRFProtect(app)
    app.extensions["digitize"] = WebContext(archive, UserStore(users_file or archive / USERS_FILE))

    app.register_blueprint(reading)
    app.register_blueprint(qc)
    _register_auth(app)

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {"user": current_user(), "role_labels": ROLE_LABELS}

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(403)
    def forbidden(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title="无权访问", message="您的账号没有访问此页面的权限。"), 403

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title="未找到", message="未找到该页面或档案。"), 404

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        return render_template("error.html", title="表单已失效", message="请刷新页面后重新提交。"), 400

    return app


def _register_auth(app: Flask) -> None:
    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        name = request.form.get("name", "").strip()
        if request.method == "POST":
            remote = request.remote_addr or ""
            web = context()
            if web.locked_out(name, remote):
                error = "登录失败次数过多，请十分钟后再试。"
            else:
                user = web.users.authenticate(name, request.form.get("password", ""))
                if user is None:
                    web.failed(name, remote)
                    error = "用户名或密码不正确。"
                else:
                    session.clear()
                    session["user"] = user.name
                    session["stamp"] = user.session_stamp
                    session.permanent = True
                    return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", error=error, name=name), (401 if error else 200)

    @app.route("/logout", methods=["POST"])
    def logout() -> Any:
        session.clear()
        return redirect(url_for("login"))

    @app.route("/health")
    def health() -> Any:
        return {"ok": True}
