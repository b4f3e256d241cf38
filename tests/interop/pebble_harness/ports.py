"""Free loopback ports for the servers a test starts."""

from __future__ import annotations

import socket

from interop.pebble_harness.errors import PebbleStartError

LOOPBACK = "127.0.0.1"


def free_ports(count: int, *, udp: int = 0) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now; the first ``udp`` also for UDP.

    All are held open until every one is found, then released for the child processes.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(count * 20):
            if len(ports) == count:
                break
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind((LOOPBACK, 0))
            port: int = tcp.getsockname()[1]
            if len(ports) < udp:
                dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(dgram)
                try:
                    dgram.bind((LOOPBACK, port))
                except OSError:
                    continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    if len(ports) != count:
        raise PebbleStartError(f"found only {len(ports)} of {count} free loopback ports")
    return ports
