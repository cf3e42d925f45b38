"""Which callback URLs intentd POSTs to (docs/webhooks.md, "Callback URLs"): ``http``/``https`` only,
no credentials in the URL (they would be stored and shown), and no private, loopback, link-local or
otherwise internal address unless the operator allows them (``INTENTD_ALLOW_PRIVATE_CALLBACKS``):
otherwise any key that may register a callback could make the server reach its own network (SSRF).

A name is checked when registered (if it resolves) and again, resolved, before every POST, so a
name later pointed at an internal address is refused at send time too."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from intentd.model import CallbackRefused

MAX_URL_LENGTH = 2048


def check_url(url: str, *, field: str = "callback_url") -> tuple[str, int]:
    """The URL's host and port, or :class:`CallbackRefused` for a scheme, credentials or shape that
    cannot be used. Addresses are checked by :func:`check_addresses`."""
    if not 8 <= len(url) <= MAX_URL_LENGTH:
        raise _refused(field, f"must be 8 to {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused(field, "is not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise _refused(field, "must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refused(field, "must not carry credentials (user:password@): sign with the secret instead")
    if not parts.hostname:
        raise _refused(field, "has no host")
    if parts.fragment:
        raise _refused(field, "must not have a #fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_internal(address: str) -> bool:
    """Private, loopback, link-local, multicast, reserved or unspecified (IPv4-mapped IPv6 too)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_addresses(host: str, addresses: list[str], *, field: str = "callback_url") -> None:
    internal = [a for a in addresses if is_internal(a)]
    if internal:
        raise _refused(
            field,
            f"reaches an internal address ({internal[0]} for {host}); the operator may allow it with "
            "INTENTD_ALLOW_PRIVATE_CALLBACKS",
        )


async def check_callback(
    url: str, *, allow_private: bool, resolve: bool, field: str = "callback_url"
) -> None:
    """Refuse ``url`` unless intentd may POST to it. ``resolve``: look the name up and check every
    address it has (a name that does not resolve passes at registration: it is checked at send)."""
    host, port = check_url(url, field=field)
    if allow_private:
        return
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        if not resolve:
            return
        addresses = await _resolve(host, port)
    check_addresses(host, addresses, field=field)


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


def _refused(field: str, why: str) -> CallbackRefused:
    return CallbackRefused(f"{field} {why}", details={"field": field})
