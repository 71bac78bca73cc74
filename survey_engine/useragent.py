"""A User-Agent header as two coarse words: the class of device and the browser family.

The paradata of a response keeps these two words, never the header itself: the whole
string, with its exact versions and phone model, is close to a fingerprint, while
"phone" and "Chrome" tell staff how people answered (and a script is told apart from a
person) without saying who answered.

The parsing is ua-parser's (the maintained port of uap-core's rules, run on RE2 here,
so its time grows with the header's length, never worse); this module only maps its
findings onto a few classes and adds the in-app browsers of Vietnam that uap-core does
not name (Zalo). It never raises: a header it cannot read is ("other", "Other").
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import NamedTuple

import ua_parser

log = logging.getLogger(__name__)

# Longer headers are cut before parsing: real ones stay under a few hundred characters
# (an in-app browser's included), and a 10 kB header must not cost more than a real one.
MAX_LENGTH = 1000
BROWSER_LENGTH = 40  # the responses.browser column

PHONE, TABLET, DESKTOP, BOT, OTHER = "phone", "tablet", "desktop", "bot", "other"
DEVICE_CLASSES = (PHONE, TABLET, DESKTOP, BOT, OTHER)
UNKNOWN_BROWSER = "Other"  # uap-core's own word for a browser it does not know

# HTTP libraries and headless browsers: a program, not a person at a browser.
_SCRIPTED = re.compile(
    r"^(curl|wget|python|go-http-client|node-fetch|undici|axios|java|okhttp|"
    r"apache-httpclient|libwww|httpie|postman|scrapy|aiohttp|guzzle|ruby|php|perl)"
    r"|headless|phantomjs|selenium|puppeteer|playwright|\b(bot|crawler|spider)\b",
    re.IGNORECASE,
)
_SCRIPTED_FAMILIES = {"HeadlessChrome", "PhantomJS", "Python Requests", "Python-urllib"}
_DESKTOP_SYSTEMS = {
    "Mac OS X",
    "Linux",
    "Ubuntu",
    "Chrome OS",
    "Fedora",
    "Debian",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Linux Mint",
    "Arch Linux",
    "openSUSE",
    "Red Hat",
    "Solaris",
}
_PHONE_SYSTEMS = {"KaiOS", "Windows Phone", "Windows Mobile", "BlackBerry OS", "Symbian OS"}
# uap-core's families for one browser on phones and computers, named once here.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "iOS WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Coc Coc": "Cốc Cốc",
}
# In-app browsers uap-core does not know (it sees their WebView): the app is the news.
_IN_APP = (("Zalo", re.compile(r"\bZalo\b", re.IGNORECASE)),)
_PRINTABLE = re.compile(r"[^\w .+/()-]", re.UNICODE)


class Agent(NamedTuple):
    device_class: str  # one of DEVICE_CLASSES
    browser: str  # a family name, at most BROWSER_LENGTH characters


def describe(user_agent: str | None) -> Agent:
    """The device class and browser family of a User-Agent header (None: no header).
    Never raises: whatever cannot be read is ("other", "Other")."""
    return _describe((user_agent or "")[:MAX_LENGTH].strip())


@lru_cache(maxsize=2048)
def _describe(header: str) -> Agent:
    """describe() of a cut header, remembered: a campaign's phones send a few hundred
    distinct User-Agents, and parsing one costs a submission more than its answers'
    JSON (the result is an immutable tuple, safe to share)."""
    if not header:
        return Agent(OTHER, UNKNOWN_BROWSER)
    try:
        result = ua_parser.parse(header)
    except Exception:  # a parser bug must never cost a citizen's answer
        log.warning("could not parse a User-Agent header", exc_info=True)
        return Agent(OTHER, UNKNOWN_BROWSER)
    family = result.user_agent.family if result.user_agent else UNKNOWN_BROWSER
    system = result.os.family if result.os else ""
    device = result.device
    device_family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    return Agent(
        _device_class(header, family, system, device_family, brand),
        _browser(header, family),
    )


def _device_class(header: str, family: str, system: str, device: str, brand: str) -> str:
    if device == "Spider" or family in _SCRIPTED_FAMILIES or _SCRIPTED.search(header):
        return BOT
    if system == "iOS":
        return TABLET if device.startswith("iPad") else PHONE
    if system in _PHONE_SYSTEMS:
        return PHONE
    if system == "Android":
        tablet = "Tablet" in brand or device in {"Kindle", "Generic Tablet"}
        # Android phones say "Mobile"; tablets (and phones asking for desktop pages) do not.
        return TABLET if tablet or "Mobile" not in header else PHONE
    if system.startswith("Windows") or system in _DESKTOP_SYSTEMS:
        return DESKTOP
    return OTHER


def _browser(header: str, family: str) -> str:
    for name, pattern in _IN_APP:
        if pattern.search(header):
            return name
    name = _BROWSER_NAMES.get(family, family) or UNKNOWN_BROWSER
    # A family can hold text captured from the header: kept to plain characters.
    return _PRINTABLE.sub("", name)[:BROWSER_LENGTH].strip() or UNKNOWN_BROWSER
