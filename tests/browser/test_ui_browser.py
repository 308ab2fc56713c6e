"""Real browser: `domainrag ui` on loopback, driven by Debian's headless Chromium through selenium.

Ingests one statute into a temp DOMAINRAG_HOME, starts the server as a subprocess, asks a question in the
chat, checks that the streamed answer and its source cards render, and saves a screenshot to
tests/artifacts/ui-chat.png. Skipped (with the reason) only when chromium/chromedriver are not installed:
`make test` installs them (apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback import free_port

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
STATUTE = "民法商法/农民专业合作社法(2017-12-27).md"
QUESTION = "三个以上的农民专业合作社可以出资设立什么？"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="Debian chromium + chromium-driver not installed (apt-get install -y chromium "
                              "chromium-driver; `make test` does this)"),
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "domainrag.cli.main", *args]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`domainrag ui` serving a KB with one statute, in its own DOMAINRAG_HOME; yields the base URL."""
    home = tmp_path_factory.mktemp("browser-home")
    corpus = home / "corpus"
    corpus.mkdir()
    shutil.copy(REPO / "domains" / "law" / "corpus" / STATUTE, corpus / Path(STATUTE).name)
    env = dict(os.environ, DOMAINRAG_HOME=str(home))
    env.pop("DOMAINRAG_MILVUS_URI", None)
    env.pop("DOMAINRAG_KB", None)
    subprocess.run(_cli("ingest", str(corpus), "--pack", "law", "--json"), env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    port = free_port()
    log = (home / "server.log").open("w")
    server = subprocess.Popen(_cli("ui", "--pack", "law", "--port", str(port), "--max-new-tokens", "32"),
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"domainrag ui did not come up: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[object]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[browser]' (make test does)")

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                 "--window-size=1440,1100", "--lang=zh-CN"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_chat_in_a_real_browser(ui_server: str, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(ui_server)
    box = WebDriverWait(driver, 90).until(
        ready.element_to_be_clickable((By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')))
    assert "不构成法律意见" in driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]').text  # disclaimer
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    # the answer is complete when its feedback thumbs appear under it
    WebDriverWait(driver, 300).until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, '[data-testid="stChatMessage"] [data-testid="stFeedback"]')))
    messages = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"]')
    assert len(messages) == 2 and QUESTION in messages[0].text
    answer = messages[1]
    text = answer.find_element(By.CSS_SELECTOR, '[data-testid="stMarkdownContainer"]').text.strip()
    assert text, "the streamed answer is shown"
    cards = answer.find_elements(By.CSS_SELECTOR, '[data-testid="stExpander"] summary')
    titles = [card.text for card in cards]
    assert titles and any("农民专业合作社法" in t for t in titles), titles
    for marker in {m for m in ("[1]", "[2]", "[3]", "[4]", "[5]") if m in text}:
        assert any(t.lstrip().startswith(marker) or marker in t for t in titles), (marker, titles)
    assert "total" in answer.text  # timings line

    cards[0].click()  # open the first source card: its snippet and path become visible
    WebDriverWait(driver, 10).until(lambda d: "Source:" in answer.text)
    assert "农民专业合作社法" in answer.text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ui-chat.png"
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
