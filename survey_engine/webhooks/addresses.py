"""Which URLs a webhook may name and which addresses it may reach (against SSRF).

By default only https:// to public addresses. WEBHOOK_ALLOW_LOOPBACK lets http:// and
https:// reach 127.0.0.0/8 and ::1 (tests, development); WEBHOOK_ALLOW_PRIVATE lets
https:// reach private, link-local (cloud metadata at 169.254.169.254), shared and
reserved addresses. Staff's URL is checked when saved (its literal address, if it has
one; no DNS lookup in a request) and every address is checked again when sending,
after the name is resolved, and the connection goes to the address checked (a name
that resolves elsewhere the second time reaches nothing it should not).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

URL_MAX = 2048
LOOPBACK_NAMES = ("localhost", "localhost.")


@dataclass(frozen=True)
class Allowed:
    loopback: bool = False
    private: bool = False

    @classmethod
    def of(cls, config: dict) -> Allowed:
        return cls(bool(config["WEBHOOK_ALLOW_LOOPBACK"]), bool(config["WEBHOOK_ALLOW_PRIVATE"]))


class Refused(ValueError):
    """The URL or address may not be used; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


REASONS = ("malformed", "scheme", "http_not_loopback", "loopback", "private", "unresolvable")


def parse(url: str) -> SplitResult:
    """The URL's parts, or Refused('malformed')."""
    if not url or len(url) > URL_MAX or not url.isascii() or any(c.isspace() for c in url):
        raise Refused("malformed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("malformed") from None
    if not parts.hostname or parts.username or parts.password or parts.fragment or port == 0:
        raise Refused("malformed")
    if parts.scheme not in ("http", "https"):
        raise Refused("scheme")
    return parts


def check_url(url: str, allowed: Allowed) -> str:
    """The URL as it will be stored, or Refused: what can be told without a DNS lookup."""
    parts = parse(url)
    host = parts.hostname or ""
    literal = _literal(host)
    loopback = host.lower() in LOOPBACK_NAMES or (literal is not None and literal.is_loopback)
    if parts.scheme == "http" and not (allowed.loopback and loopback):
        raise Refused("http_not_loopback")
    if host.lower() in LOOPBACK_NAMES and not allowed.loopback:
        raise Refused("loopback")
    if literal is not None:
        check_address(literal, allowed)
    return parts.geturl()


def check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allowed: Allowed) -> None:
    """Refused unless a webhook may connect to `address`."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        if not allowed.loopback:
            raise Refused("loopback", str(address))
        return
    if address.is_multicast or address.is_unspecified:
        raise Refused("private", str(address))
    if not address.is_global and not allowed.private:
        raise Refused("private", str(address))


def resolve(parts: SplitResult, allowed: Allowed) -> tuple[str, int]:
    """The checked address and port to connect to, after resolving the host."""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise Refused("unresolvable", str(error)) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise Refused("unresolvable")
    for address in addresses:  # every one: the name may not lead anywhere refused
        check_address(address, allowed)
        if parts.scheme == "http" and not address.is_loopback:
            raise Refused("http_not_loopback", str(address))
    return str(addresses[0]), port


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
