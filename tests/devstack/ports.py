"""Free TCP ports on 127.0.0.1 for servers started by the dev stack."""

import socket
import time


def free_port() -> int:
    """A port that was free a moment ago; the caller binds it soon, so races are unlikely but possible."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (held open together while choosing, so none is picked twice)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def accepts_connections(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def parse_host_port(address: str) -> tuple[str, int]:
    """Split "host:port"; raises ValueError naming the address when it is not one."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host, int(port)


def wait_for_port(port: int, deadline: float, host: str = "127.0.0.1") -> bool:
    """Poll until something listens on the port or the monotonic deadline passes."""
    while time.monotonic() < deadline:
        if accepts_connections(port, host):
            return True
        time.sleep(0.1)
    return False
