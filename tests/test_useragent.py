"""User-Agent headers as real phones, apps and scripts send them, as staff see them."""

from __future__ import annotations

import time

import pytest

from survey_engine.useragent import BROWSER_LENGTH, DEVICE_CLASSES, Agent, describe

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
ZALO_ANDROID = (
    "Mozilla/5.0 (Linux; Android 12; SM-A125F Build/SP1A.210812.016; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 "
    "Zalo android/12100570 ZaloTheme/light ZaloLanguage/vi"
)
ZALO_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Zalo iOS/23.10.01 ZaloTheme/light ZaloLanguage/vi"
)
FACEBOOK_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536E Build/TP1A; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/444.0.0.32.118;]"
)
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
WINDOWS_COC_COC = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 coc_coc_browser/117.0.180"
)
IPAD_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
KAIOS_PHONE = (
    "Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) "
    "Gecko/48.0 Firefox/48.0 KAIOS/2.5"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ANDROID_CHROME, ("phone", "Chrome")),
        (IPHONE_SAFARI, ("phone", "Safari")),
        (ZALO_ANDROID, ("phone", "Zalo")),
        (ZALO_IPHONE, ("phone", "Zalo")),
        (FACEBOOK_ANDROID, ("phone", "Facebook")),
        (WINDOWS_FIREFOX, ("desktop", "Firefox")),
        (WINDOWS_COC_COC, ("desktop", "Cốc Cốc")),
        (MAC_SAFARI, ("desktop", "Safari")),
        (IPAD_SAFARI, ("tablet", "Safari")),
        (ANDROID_TABLET, ("tablet", "Chrome")),
        (KAIOS_PHONE, ("phone", "Firefox")),
    ],
)
def test_people_s_browsers(header, expected):
    assert describe(header) == Agent(*expected)


@pytest.mark.parametrize(
    ("header", "browser"),
    [
        ("curl/8.4.0", "curl"),
        ("python-requests/2.31.0", "Python Requests"),
        ("Wget/1.21.3", "Wget"),
        ("Go-http-client/1.1", "Go-http-client"),
        ("python-httpx/0.25.0", "Other"),
        (HEADLESS, "HeadlessChrome"),
        (GOOGLEBOT, "Googlebot"),
    ],
)
def test_scripts_and_crawlers_are_bots(header, browser):
    assert describe(header) == Agent("bot", browser)


@pytest.mark.parametrize("header", [None, "", "   ", "Mozilla/5.0", "Zal", "\x00\ud800", "é" * 50])
def test_nothing_to_read_is_other(header):
    agent = describe(header)
    assert agent.device_class == "other"
    assert agent.browser == "Other"


def test_garbage_is_bounded_and_never_raises():
    garbage = [
        "x" * 10_000,
        "Mozilla/5.0 (" * 800,
        "(" * 10_000,
        "Mozilla/5.0 (Linux; Android 13; " + "A" * 10_000 + ") Mobile Safari",
        "".join(chr(c) for c in range(1, 10_001)),
        ANDROID_CHROME + ";" * 10_000,
    ]
    describe(ANDROID_CHROME)  # the parser's rules are compiled once, on first use
    started = time.perf_counter()
    for header in garbage:
        agent = describe(header)
        assert agent.device_class in DEVICE_CLASSES
        assert 0 < len(agent.browser) <= BROWSER_LENGTH
    assert time.perf_counter() - started < 1.0
