"""The web application in a real browser: Debian's Chromium driven by Selenium (chromium-driver).

Nothing is downloaded: the browser and its driver are the system's (/usr/bin/chromium,
/usr/bin/chromedriver). With DIGITIZE_SCREENSHOTS=DIR the tests also save screenshots of the
main pages into DIR (docs/screenshots holds the ones shown in the documentation).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from digitize.web.app import create_app
from digitize.web.users import USERS_FILE, UserStore
from tests.conftest import checked_archive

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.is_file() and DRIVER.is_file()):
    raise RuntimeError("Debian chromium and chromium-driver are needed: run bash scripts/bootstrap.sh --dev")

PASSWORD = "browser-pass-1"
PAN = "J022-SB·2019-Y-DY-0004"


@pytest.fixture(scope="module")
def server(sample_run, clean_lot, tmp_path_factory):
    from waitress import create_server

    lots = checked_archive(sample_run["out"], clean_lot, tmp_path_factory.mktemp("browser"))
    archive = lots["archive"]
    store = UserStore(archive / USERS_FILE)
    store.add("wangfang", PASSWORD, "inspector", "内部", display="王芳")
    store.add("visitor", PASSWORD, "reader", "公开", display="访客")
    http = create_server(create_app(archive), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    db = sqlite3.connect(archive / "index.sqlite")
    (pan_id,) = db.execute("SELECT id FROM documents WHERE archival_code=?", (PAN,)).fetchone()
    db.close()
    yield {"url": f"http://127.0.0.1:{http.effective_port}", "pan_id": pan_id}
    http.close()


@pytest.fixture()
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(DRIVER)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> None:
    folder = os.environ.get("DIGITIZE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def sign_in(driver, url: str, name: str) -> None:
    driver.get(url + "/login")
    screenshot(driver, "login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 10).until(expected_conditions.presence_of_element_located((By.ID, "account")))


def test_search_a_name_open_the_hit_and_see_it_highlighted(server, browser):
    sign_in(browser, server["url"], "wangfang")
    box = browser.find_element(By.ID, "q")
    box.send_keys("潘梅")
    browser.find_element(By.ID, "search").click()
    count = WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.ID, "count")))
    assert count.text.startswith("共 2 处命中")
    assert [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".snippet mark")] == ["潘梅", "潘梅"]
    screenshot(browser, "search")
    page_hit = next(a for a in browser.find_elements(By.CSS_SELECTOR, "li.hit") if "第 1 页" in a.text)
    page_hit.find_element(By.CSS_SELECTOR, "a.hit-link").click()
    image = WebDriverWait(browser, 10).until(expected_conditions.visibility_of_element_located((By.ID, "page-image")))
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0)
    boxes = browser.find_elements(By.CSS_SELECTOR, "rect.hit-box")
    assert boxes, "the hit is not marked on the page image"
    picture = image.rect
    for mark in boxes:
        rect = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.x, r.y, r.width, r.height]", mark
        )
        frame = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.x, r.y]", image)
        assert rect[2] > 5 and rect[3] > 5
        assert frame[0] <= rect[0] and rect[0] + rect[2] <= frame[0] + picture["width"] + 1
        assert frame[1] <= rect[1] and rect[1] + rect[3] <= frame[1] + picture["height"] + 1
    marked = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "#ocr-text mark")]
    assert marked and set(marked) == {"潘梅"}
    screenshot(browser, "document")


def wait_for_verdict(browser, verdict: str) -> None:
    """Waits through the reload that recording a decision causes (the old page's element goes stale)."""
    wait = WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: d.find_element(By.ID, "verdict").get_attribute("data-verdict") == verdict)


def test_record_a_qc_decision_and_see_the_verdict_change(server, browser):
    sign_in(browser, server["url"], "wangfang")
    browser.get(server["url"] + "/qc/2")
    assert browser.find_element(By.ID, "verdict").get_attribute("data-verdict") == "pending"
    assert browser.find_elements(By.CSS_SELECTOR, "img.thumb")
    form = browser.find_element(By.CSS_SELECTOR, "form.decision")
    form.find_element(By.CSS_SELECTOR, "input[value=fail]").click()
    Select(form.find_element(By.NAME, "defect_type")).select_by_value("illegible")
    Select(form.find_element(By.NAME, "defect_class")).select_by_value("B")
    form.find_element(By.NAME, "note").send_keys("第1页字迹模糊")
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait_for_verdict(browser, "fail")
    assert "不合格" in browser.find_element(By.ID, "verdict").text
    screenshot(browser, "qc")
    form = browser.find_element(By.CSS_SELECTOR, "form.decision")
    form.find_element(By.CSS_SELECTOR, "input[value=pass]").click()
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait_for_verdict(browser, "pass")
    assert "合格" in browser.find_element(By.ID, "verdict").text


def test_a_public_reader_reaches_no_internal_document(server, browser):
    sign_in(browser, server["url"], "visitor")
    browser.get(server["url"] + "/?q=潘梅")
    assert browser.find_element(By.ID, "count").text.startswith("共 0 处命中")
    assert not browser.find_elements(By.CSS_SELECTOR, "li.hit")
    browser.get(f"{server['url']}/doc/{server['pan_id']}?q=潘梅&p=1")
    assert browser.find_element(By.ID, "error-message").text == "未找到该页面或档案。"
    assert PAN not in browser.page_source and "潘梅" not in browser.find_element(By.TAG_NAME, "main").text
    browser.get(f"{server['url']}/doc/{server['pan_id']}/pdf")
    assert browser.find_element(By.ID, "error-message").text == "未找到该页面或档案。"
