#!/usr/bin/env python3
"""Measure what idle keep-alive connections cost a server in memory.

Opens N TCP connections to HOST:PORT, sends one keep-alive GET on each and reads the whole
response (so each connection is proven to stay open after a request), then leaves them all
idle, and reports the server's resident memory before and after: the RSS summed over the
given PID and all its descendants (nginx keeps connections in its workers, not the master).

Usage: idle_conns.py --pid PID [--host 127.0.0.1] [--port 18080] [--conns 10000]
                     [--path /hello.php] [--hold 2] [--json FILE]

Exits 1 when any connection could not be opened, got a non-200 answer, was refused
keep-alive, or was closed by the server while idle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# How many connections are being opened at once; keeps the listen backlog from overflowing.
OPEN_CONCURRENCY = 256
# File descriptors the script needs besides the connections (stdio, the event loop, /proc reads).
SPARE_FDS = 64
# Seconds allowed for one connect + request + response.
PER_CONN_TIMEOUT = 10.0
# The longest response header block accepted.
MAX_HEADER_BYTES = 64 * 1024


class ResponseError(Exception):
    """The server's answer was not a complete keep-alive 200 response."""


@dataclass
class IdleResult:
    """What one run measured; written as JSON for bench/report.py."""

    host: str
    port: int
    pid: int
    requested: int
    opened: int
    failed: int
    still_open: int
    rss_before_kb: int
    rss_after_kb: int
    kb_per_conn: float | None
    open_seconds: float
    first_error: str | None


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Split a response head (status line and headers, without the blank line) into the
    status code and a dict of lower-cased header names to values."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ResponseError(f"bad status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ResponseError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """Read a body framed by Content-Length or chunked encoding. A body framed by
    connection close is refused: it means the server does not keep the connection alive."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await read_chunked(reader)
    length = headers.get("content-length")
    if length is None:
        raise ResponseError("no Content-Length and not chunked: body ends at close")
    if not length.isdigit():
        raise ResponseError(f"bad Content-Length {length!r}")
    return await reader.readexactly(int(length))


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """Read a chunked body up to and including its trailer section."""
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as err:
            raise ResponseError(f"bad chunk size {size_text!r}") from err
        if size == 0:
            break
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ResponseError("chunk not followed by CRLF")
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass  # trailer fields, unused
    return bytes(body)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Read one whole HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEADER_BYTES:
        raise ResponseError("response head too large")
    status, headers = parse_head(head[:-4])
    body = await read_body(reader, headers)
    return status, headers, body


def build_request(host: str, port: int, path: str) -> bytes:
    """The keep-alive GET sent on every connection."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n"
        "User-Agent: ephpm-bench-idle\r\n\r\n"
    ).encode("ascii")


async def open_one(
    host: str, port: int, request: bytes, gate: asyncio.Semaphore
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, send the request, check the response keeps the connection alive."""
    async with gate:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PER_CONN_TIMEOUT)
        try:
            writer.write(request)
            await writer.drain()
            status, headers, _ = await asyncio.wait_for(read_response(reader), PER_CONN_TIMEOUT)
            if status != 200:
                raise ResponseError(f"status {status}")
            if headers.get("connection", "").lower() == "close":
                raise ResponseError("server answered Connection: close")
        except BaseException:
            writer.close()
            raise
        return reader, writer


def process_tree(root: int) -> list[int]:
    """``root`` and the PIDs of all its descendants, from the parent links in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process exited while we looked
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def vm_rss_kb(pid: int) -> int:
    """The VmRSS of one process in KB (0 for a kernel thread or a process that exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_kb(root: int) -> int:
    """The VmRSS of ``root`` and all its descendants, in KB."""
    if not Path(f"/proc/{root}").exists():
        raise ProcessLookupError(f"no process {root}")
    return sum(vm_rss_kb(pid) for pid in process_tree(root))


def raise_fd_limit(needed: int) -> None:
    """Raise the soft open-files limit to the hard one; fail when even that is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(f"need {needed} open files, hard limit is {hard} (raise ulimit -n)")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def still_open(readers: list[asyncio.StreamReader]) -> int:
    """How many connections the server has not closed: let pending EOFs arrive, then count."""
    await asyncio.sleep(0.2)
    return sum(1 for reader in readers if not reader.at_eof() and reader.exception() is None)


async def measure(args: argparse.Namespace) -> IdleResult:
    """Open the connections, hold them idle, and measure the server's RSS around that."""
    request = build_request(args.host, args.port, args.path)
    rss_before = tree_rss_kb(args.pid)
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(open_one(args.host, args.port, request, gate) for _ in range(args.conns)),
        return_exceptions=True,
    )
    open_seconds = time.monotonic() - started
    conns = [o for o in outcomes if not isinstance(o, BaseException)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    try:
        await asyncio.sleep(args.hold)
        rss_after = tree_rss_kb(args.pid)
        alive = await still_open([reader for reader, _ in conns])
    finally:
        for _, writer in conns:
            writer.close()
    return IdleResult(
        host=args.host,
        port=args.port,
        pid=args.pid,
        requested=args.conns,
        opened=len(conns),
        failed=len(errors),
        still_open=alive,
        rss_before_kb=rss_before,
        rss_after_kb=rss_after,
        kb_per_conn=(rss_after - rss_before) / len(conns) if conns else None,
        open_seconds=round(open_seconds, 3),
        first_error=describe(errors[0]) if errors else None,
    )


def describe(error: BaseException) -> str:
    """A one-line description of a connection's failure."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def print_result(result: IdleResult) -> None:
    """The human-readable summary."""
    print(f"idle keep-alive test against {result.host}:{result.port} (pid {result.pid} and children)")
    print(
        f"  connections opened: {result.opened}/{result.requested} in {result.open_seconds:.1f}s,"
        f" still open after holding: {result.still_open}"
    )
    print(f"  server RSS before: {result.rss_before_kb} KB, with connections idle: {result.rss_after_kb} KB")
    if result.kb_per_conn is not None:
        print(f"  per idle connection: {result.kb_per_conn:.2f} KB")
    if result.first_error:
        print(f"  {result.failed} failed, first error: {result.first_error}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="server PID whose tree's RSS is read")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--conns", type=int, default=10000, help="connections to open (default 10000)")
    parser.add_argument("--path", default="/hello.php", help="request path (default /hello.php)")
    parser.add_argument("--hold", type=float, default=2.0, help="seconds to stay idle before measuring")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    try:
        raise_fd_limit(args.conns + SPARE_FDS)
        result = asyncio.run(measure(args))
    except (OSError, ProcessLookupError) as err:
        print(f"idle_conns: {err}", file=sys.stderr)
        return 1
    print_result(result)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    healthy = result.failed == 0 and result.still_open == result.opened
    if not healthy:
        print("idle_conns: FAILED: not every connection was kept alive", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
