"""A stateless http-01 responder (RFC 8555 section 8.3) for the benchmark, in its own process.

Pebble's VA fetches ``http://<name>:<port>/.well-known/acme-challenge/<token>`` and expects the
key authorization ``<token>.<account key thumbprint>`` (section 8.1). The answer depends only on
the token and the account, so this server needs no per-challenge provisioning: a worker writes
one file per account into ``--accounts-dir`` (named by a label, holding the thumbprint and an
optional delay in milliseconds) and puts that label in every name it orders
(``n<i>.<label>.example.com``). Every client under test (ours, acme 5.9, the bare-bones limit)
is served the same way, so no client pays for a side channel (challtestsrv's management API)
inside the measured work, and the responder's CPU is not in the client's process.

The delay makes "a server whose validation takes N seconds": Pebble starts three concurrent
validations per challenge and waits for all of them, each of which waits here N seconds.

Prints ``PORT <n>`` on stdout once listening; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

PREFIX = "/.well-known/acme-challenge/"  # RFC 8555 section 8.3
DOMAIN = "example.com"
_HEADER_LIMIT = 64 * 1024


class Responder:
    """Answers http-01 fetches from the account files in ``accounts_dir``."""

    def __init__(self, accounts_dir: Path) -> None:
        self.accounts_dir = accounts_dir
        self.cache: dict[str, tuple[str, float]] = {}
        self.served = 0

    def account(self, host: str) -> tuple[str, float] | None:
        """(thumbprint, delay in seconds) for the account label in ``host``, if known."""
        labels = host.split(":", 1)[0].rstrip(".").lower().split(".")
        if len(labels) < 3 or ".".join(labels[-2:]) != DOMAIN:
            return None
        label = labels[-3]
        if label in self.cache:
            return self.cache[label]
        if not label.isalnum():
            return None
        try:
            fields = (self.accounts_dir / label).read_text().split()
        except OSError:
            return None
        entry = (fields[0], int(fields[1]) / 1000.0 if len(fields) > 1 else 0.0)
        self.cache[label] = entry
        return entry

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            status, body, delay = self.answer(head)
            if delay:
                await asyncio.sleep(delay)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def answer(self, head: bytes) -> tuple[str, bytes, float]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or parts[0] != "GET" or not parts[1].startswith(PREFIX):
            return "404 Not Found", b"", 0.0
        token = parts[1][len(PREFIX) :]
        host = next((v.strip() for k, _, v in (h.partition(":") for h in lines[1:])
                     if k.lower() == "host"), "")  # fmt: skip
        account = self.account(host)
        if account is None or not token:
            return "404 Not Found", b"", 0.0
        self.served += 1
        thumbprint, delay = account
        return "200 OK", f"{token}.{thumbprint}".encode(), delay


async def serve(accounts_dir: Path, host: str, port: int) -> None:
    responder = Responder(accounts_dir)
    server = await asyncio.start_server(responder.handle, host, port, limit=_HEADER_LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()
    print(f"SERVED {responder.served}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.accounts_dir, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
