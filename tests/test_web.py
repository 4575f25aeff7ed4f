"""The web application through Flask's test client: sign-in, CSRF, graded access, files, 利用登记, QC review."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from digitize.journal import JournalReader
from digitize.qc.decisions import DecisionRecord
from digitize.web.app import MAX_FAILURES, create_app
from digitize.web.usage import EVENT_TYPE
from digitize.web.users import USERS_FILE, UserStore
from tests.conftest import checked_archive

PASSWORD = "correct horse 1"
ACCOUNTS = {
    "admin": ("admin", "内部"),
    "inspector": ("inspector", "内部"),
    "staff": ("reader", "内部"),
    "public": ("reader", "公开"),
}


@pytest.fixture(scope="module")
def site(sample_run, clean_lot, tmp_path_factory) -> dict:
    """The sample batch and the clean lot (source 2, after a `qc` run) in one archive."""
    lots = checked_archive(sample_run["out"], clean_lot, tmp_path_factory.mktemp("web"))
    store = UserStore(lots["archive"] / USERS_FILE)
    for name, (role, clearance) in ACCOUNTS.items():
        store.add(name, PASSWORD, role, clearance, display=f"{name}-名")
    app = create_app(lots["archive"])
    return {"out": lots["clean"], "rest": lots["rest"], "archive": lots["archive"], "app": app, "store": store}


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(site: dict, name: str):
    client = site["app"].test_client()
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.text
    return client


def document_id(site: dict, code: str) -> int:
    db = sqlite3.connect(site["archive"] / "index.sqlite")
    (found,) = db.execute("SELECT id FROM documents WHERE archival_code=?", (code,)).fetchone()
    db.close()
    return found


PAN = "J022-SB·2019-Y-DY-0004"


def test_sign_in_is_required_and_checked(site):
    client = site["app"].test_client()
    assert client.get("/?q=潘梅").headers["Location"].startswith("/login?next=")
    assert client.get(f"/doc/{document_id(site, PAN)}").status_code == 302
    token = csrf(client.get("/login").text)
    wrong = client.post("/login", data={"name": "staff", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
    assert client.post("/login", data={"name": "staff", "password": PASSWORD}).status_code == 400  # no CSRF token
    nexted = client.post(
        "/login?next=//evil.example/", data={"name": "staff", "password": PASSWORD, "csrf_token": token}
    )
    assert nexted.headers["Location"] == "/"
    headers = client.get("/").headers
    assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["Cache-Control"] == "no-store"
    cookie = next(c for c in client._cookies.values() if c.key == "digitize_session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_repeated_failures_lock_the_name_out_in_every_process(site):
    """Failures counted by one application (one server process) lock the name out in another."""
    away = {"REMOTE_ADDR": "10.9.8.7"}  # the other tests sign in from 127.0.0.1
    first, second = (create_app(site["archive"]).test_client() for _ in range(2))
    token = csrf(first.get("/login", environ_base=away).text)
    for _ in range(MAX_FAILURES):
        form = {"name": "admin", "password": "guess-guess", "csrf_token": token}
        assert first.post("/login", data=form, environ_base=away).status_code == 401
    token = csrf(second.get("/login", environ_base=away).text)
    locked = second.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token}, environ_base=away)
    assert locked.status_code == 401 and "次数过多" in locked.text
    other = second.post("/login", data={"name": "staff", "password": PASSWORD, "csrf_token": token}, environ_base=away)
    assert other.status_code == 302  # other names are not affected
    assert signed_in(site, "admin")  # nor the same name from another address


def test_staff_find_and_open_a_document_with_the_hit_marked(site):
    client = signed_in(site, "staff")
    page = client.get("/?q=潘梅").text
    assert 'id="count">共 2 处命中' in page and "<mark>潘梅</mark>" in page
    doc = client.get(f"/doc/{document_id(site, PAN)}?q=潘梅&p=1")
    assert doc.status_code == 200 and "<mark>潘梅</mark>" in doc.text
    assert re.search(r'<rect class="hit-box" x="\d+" y="\d+" width="\d+" height="\d+">', doc.text)
    image = client.get(f"/doc/{document_id(site, PAN)}/page/1.jpg")
    assert image.status_code == 200 and image.data[:3] == b"\xff\xd8\xff"
    thumb = client.get(f"/doc/{document_id(site, PAN)}/page/1.jpg?size=thumb")
    assert thumb.status_code == 200 and len(thumb.data) < len(image.data)
    pdf = client.get(f"/doc/{document_id(site, PAN)}/pdf")
    assert (
        pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and "attachment" in pdf.headers["Content-Disposition"]
    )


def test_a_public_reader_cannot_reach_an_internal_document(site):
    client = signed_in(site, "public")
    page = client.get("/?q=潘梅").text
    assert 'id="count">共 0 处命中' in page and PAN not in page
    hidden = document_id(site, PAN)
    missing = client.get("/doc/99999")
    for url in (f"/doc/{hidden}", f"/doc/{hidden}?q=潘梅&p=1", f"/doc/{hidden}/pdf", f"/doc/{hidden}/page/1.jpg"):
        response = client.get(url)
        assert response.status_code == 404 and response.data == missing.data, url
    assert client.get("/qc/").status_code == 403 and client.get("/usage").status_code == 403


def test_every_view_and_download_is_in_the_journal(site):
    client = signed_in(site, "staff")
    with JournalReader(site["rest"] / "journal.sqlite") as journal:
        before = len(journal.events_of_type(EVENT_TYPE, 10_000))
    hidden_attempt = signed_in(site, "public").get(f"/doc/{document_id(site, PAN)}")
    assert hidden_attempt.status_code == 404
    client.get(f"/doc/{document_id(site, PAN)}?p=2")
    client.get(f"/doc/{document_id(site, PAN)}/pdf")
    with JournalReader(site["rest"] / "journal.sqlite") as journal:
        events = journal.events_of_type(EVENT_TYPE, 10_000)
        assert journal.chain().intact
    assert len(events) == before + 2
    download, view = events[0], events[1]
    assert (view.object, view.detail["利用方式"], view.detail["页"]) == (PAN, "查看", 2)
    assert (download.detail["利用方式"], download.detail["利用者"], download.detail["密级权限"]) == (
        "下载",
        "staff",
        "内部",
    )
    register = signed_in(site, "admin").get("/usage").text
    assert "下载" in register and "staff-名" in register


def test_no_url_reaches_a_file_outside_the_archive(site, tmp_path):
    client = signed_in(site, "staff")
    for url in (
        "/doc/1/page/..%2F..%2Fjournal.sqlite",
        "/static/../users.json",
        "/static/%2e%2e/web-secret.key",
        "/doc/-1",
    ):
        assert client.get(url).status_code == 404, url
    archive = tmp_path / "archive"
    shutil.copytree(site["archive"], archive)
    db = sqlite3.connect(archive / "index.sqlite")
    db.execute("UPDATE documents SET pdf='../../../../etc/passwd' WHERE archival_code=?", (PAN,))
    db.commit()
    db.close()
    tampered = create_app(archive).test_client()
    token = csrf(tampered.get("/login").text)
    tampered.post("/login", data={"name": "staff", "password": PASSWORD, "csrf_token": token})
    assert tampered.get(f"/doc/{document_id(site, PAN)}/pdf").status_code == 404


def test_inspectors_record_decisions_and_the_verdict_follows(site):
    client = signed_in(site, "inspector")
    assert client.get("/qc/").status_code == 200
    lot = client.get("/qc/2").text
    assert 'data-verdict="pending"' in lot and 'class="thumb"' in lot
    item = re.search(r'name="item" value="([^"]+)"', lot).group(1)
    token = csrf(lot)
    unchecked = client.post("/qc/2/decision", data={"item": item, "decision": "fail", "csrf_token": token})
    assert unchecked.status_code == 302 and DecisionRecord(site["out"]).entries() == []
    assert client.post("/qc/2/decision", data={"item": item, "decision": "pass"}).status_code == 400  # no CSRF
    form = {"item": item, "decision": "fail", "defect_type": "illegible", "defect_class": "B", "note": "第2页模糊"}
    client.post("/qc/2/decision", data={**form, "csrf_token": token})
    page = client.get("/qc/2").text
    assert 'data-verdict="fail"' in page and "第2页模糊" in page
    [recorded] = DecisionRecord(site["out"]).current()
    assert (recorded.decision, recorded.defect_class, recorded.inspector) == ("fail", "major", "inspector-名")
    for sampled in re.findall(r'name="item" value="([^"]+)"', page):
        client.post("/qc/2/decision", data={"item": sampled, "decision": "pass", "csrf_token": token})
    assert 'data-verdict="pass"' in client.get("/qc/2").text
    signoff = {"inspector": "王芳", "reviewer": "李明", "date": "2024-05-01", "time": "14:30", "csrf_token": token}
    client.post("/qc/2/signoff", data=signoff)
    assert "复核人：李明" in client.get("/qc/2").text
    client.post("/qc/2/signoff", data={**signoff, "reviewer": "王芳"})
    assert DecisionRecord(site["out"]).signoff().reviewer == "李明"  # reviewer must differ from inspector
    assert signed_in(site, "staff").post("/qc/2/decision", data={"csrf_token": token}).status_code in (400, 403)


def test_a_changed_password_ends_open_sessions(site):
    client = signed_in(site, "staff")
    assert client.get("/").status_code == 200
    site["store"].change("staff", password=PASSWORD + "x")
    assert client.get("/").status_code == 302
    site["store"].change("staff", password=PASSWORD)


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _opened(pid: int, name: str) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd).endswith(name) for fd in fds.iterdir() if fd.is_symlink())


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to see the server processes")
def test_two_server_processes_record_every_view_in_one_chain(site):
    """`digitize serve --workers 2`: both processes answer, every view is one event of one intact
    chain, a public reader still gets 404 for an internal record, and SIGTERM stops them all."""
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", str(site["archive"]), "--port", "0", "--workers", "2"],
        cwd=Path(__file__).resolve().parent.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        while not (serving := re.search(r"http://127\.0\.0\.1:(\d+)/", server.stderr.readline())):
            assert server.poll() is None, "digitize serve ended"
        port = int(serving[1])
        for _ in range(100):  # the workers are forked just after the line above is written
            if len(workers := _children(server.pid)) == 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2
        with JournalReader(site["rest"] / "journal.sqlite") as journal:
            before = len(journal.events_of_type(EVENT_TYPE, 10_000))
        cookies = {name: _http_sign_in(port, name) for name in ("staff", "public")}
        path = f"/doc/{document_id(site, PAN)}"
        views = 40

        def view(number: int) -> tuple[int, int]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # a new connection each time
            connection.request("GET", f"{path}?p={1 + number % 2}", headers={"Cookie": cookies["staff"]})
            staff = connection.getresponse().status
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", path, headers={"Cookie": cookies["public"]})
            public = connection.getresponse().status
            connection.close()
            return staff, public

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(view, range(views)))
        assert answers == [(200, 404)] * views
        assert all(_opened(pid, "journal.sqlite") for pid in workers)  # each process recorded views
        with JournalReader(site["rest"] / "journal.sqlite") as journal:
            assert len(journal.events_of_type(EVENT_TYPE, 10_000)) == before + views
            assert journal.chain().intact
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)


def _http_sign_in(port: int, name: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/login")
    response = connection.getresponse()
    token = csrf(response.read().decode())
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    form = urlencode({"name": name, "password": PASSWORD, "csrf_token": token})
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    connection.request("POST", "/login", body=form, headers=headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 302
    connection.close()
    return response.getheader("Set-Cookie").split(";", 1)[0]
