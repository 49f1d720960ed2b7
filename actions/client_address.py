"""The address of the customer's device, behind the bank's own proxies only.

Behind an ingress every request arrives from the ingress's address, so per-address
limits would count all customers as one. The forwarded headers say who the client was,
but any client can send them too. They are read only when the request comes from a
proxy the bank names (`FINASSIST_TRUSTED_PROXIES`, addresses or networks; empty, the
default, trusts nobody), and then only the hops those proxies appended: the address is
the right-most one in ``X-Forwarded-For`` that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 20  # a longer chain is a forged or broken header: read no further


def parse_networks(spec: str) -> tuple[Network, ...]:
    """Parse ``"10.0.0.0/8, 192.168.1.7"`` into networks.

    Raises:
        ValueError: an entry is not an address or a network.
    """
    networks = []
    for part in spec.replace(";", ",").split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: object, proxies: Iterable[Network]) -> bool:
    return any(address in net for net in proxies)  # type: ignore[operator]


def client_address(
    peer: str | None,
    headers: Mapping[str, str],
    trusted_proxies: tuple[Network, ...] = (),
) -> str:
    """The client's address for limits and logs.

    Args:
        peer: the address the connection came from.
        headers: the request headers (lower- or mixed-case names).
        trusted_proxies: the bank's proxies whose forwarded headers count.

    Returns:
        An address in its canonical text form, or ``"unknown"``.
    """
    current = _address(peer or "")
    if current is None:
        return "unknown"
    if not trusted_proxies or not _trusted(current, trusted_proxies):
        return str(current)
    forwarded = ""
    for name, value in headers.items():
        if name.lower() == "x-forwarded-for":
            forwarded = f"{forwarded},{value}" if forwarded else value
    hops = [h for h in forwarded.split(",") if h.strip()][-MAX_HOPS:]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # garbage in the chain: stop at the last good hop
            break
        current = address
        if not _trusted(address, trusted_proxies):
            break
    return str(current)
