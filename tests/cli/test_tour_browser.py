"""The tour's report opened in a real browser (headless Chromium through Selenium): every figure
loads, the console logs no error, and the student network's answers are on the page.

Chromium and its driver are required (Debian: ``apt-get install chromium chromium-driver``; CI
installs them); without them this test fails, it does not skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bayesgen.cli import main


def _chrome():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        pytest.fail(f"the browser test needs selenium (the test extra): {err}")
    browser = next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.fail(
            "the browser test needs Chromium and chromedriver on PATH "
            f"(found browser={browser}, chromedriver={driver}); on Debian: "
            "apt-get install chromium chromium-driver"
        )
    options = Options()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_report_renders_in_chromium(tmp_path: Path):
    # the student network (tables, figure 1) and KDE (figures 6 and 7, 2-D panels)
    assert main(["tour", "--out", str(tmp_path), "--only", "student", "kde"]) == 0
    page = (tmp_path / "index.html").resolve()
    chrome = _chrome()
    try:
        chrome.set_window_size(1366, 900)  # a laptop's screen
        chrome.get(page.as_uri())
        assert chrome.execute_script("return document.readyState") == "complete"
        images = chrome.execute_script(
            "return Array.from(document.images).map(i => "
            "[i.getAttribute('src'), i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
        )
        assert sorted(src for src, *_ in images) == ["kde_1d.png", "kde_2d.png", "student.png"]
        for src, complete, natural, shown in images:
            assert complete and natural > 0, f"{src} did not load"
            # legible: within the window, and the 2-D KDE panels shown at least 800 px wide
            assert 100 < shown <= 1366, (src, shown)
        assert dict((s, w) for s, _, _, w in images)["kde_2d.png"] >= 800
        errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
        body = chrome.find_element("tag name", "body").text
        for number in ("0.6950", "0.7377", "0.5460", "0.7856", "0.7648", "0.5346"):
            assert number in body, number
        assert "Figure 1." in body and "Figure 7." in body
        # the contents link to the sections
        links = chrome.execute_script(
            "return Array.from(document.querySelectorAll('nav a')).map(a => a.hash)"
        )
        assert links[:1] == ["#student"] and "#kde" in links
        assert chrome.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ), "the page scrolls sideways"
    finally:
        chrome.quit()
