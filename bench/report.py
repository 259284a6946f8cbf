#!/usr/bin/env python3
"""Turn the raw outputs of one bench/run.sh run into a table, ePHPm's ratios and a markdown file.

run.sh leaves these files in a results directory:

* ``<server>__<page>__c<conns>__r<rep>.wrk``: the stdout of one ``wrk --latency`` run;
* ``<server>.idle.json``: the result of one bench/idle_conns.py run;
* ``meta.tsv``: ``key<TAB>value`` lines describing the run (date, versions, settings).

Usage: ``report.py RESULTS_DIR --out FILE.md``. The table and ratios go to stdout too.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The server keys run.sh uses, in report order, with the names shown to people.
SERVER_LABELS: dict[str, str] = {
    "ephpm": "ePHPm",
    "nginx": "nginx + php-fpm",
    "apache": "apache2 + mod_php",
}

# Pages in report order; others follow by name.
PAGE_ORDER: list[str] = ["hello.php", "heavy.php"]

# The server the ratios are computed for.
SUBJECT = "ephpm"

# Milliseconds in one unit of each suffix wrk prints for a duration.
_MS_PER_UNIT: dict[str, float] = {
    "us": 0.001,
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
}

_REQ_PER_SEC = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_P99 = re.compile(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_FILE = re.compile(r"^(?P<server>[a-z0-9_-]+)__(?P<page>.+)__c(?P<conns>\d+)__r(?P<rep>\d+)\.wrk$")


class WrkParseError(ValueError):
    """Raised when a wrk output lacks a line the report needs."""


@dataclass(frozen=True)
class WrkRun:
    """The numbers taken from one wrk run."""

    requests_per_sec: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Row:
    """One line of the result table: the median over the repetitions of one measurement."""

    server: str
    page: str
    conns: int
    requests_per_sec: float
    p99_ms: float
    errors: int
    reps: int


def duration_to_ms(value: str, unit: str) -> float:
    """Convert a duration as wrk prints it (``"1.23"``, ``"ms"``) to milliseconds."""
    try:
        return float(value) * _MS_PER_UNIT[unit]
    except KeyError as err:
        raise WrkParseError(f"unknown wrk time unit {unit!r}") from err


def parse_wrk(text: str) -> WrkRun:
    """Read requests/s, the 99th percentile latency and the error count from wrk's stdout."""
    rate = _REQ_PER_SEC.search(text)
    if rate is None:
        raise WrkParseError("no 'Requests/sec:' line")
    p99 = _P99.search(text)
    if p99 is None:
        raise WrkParseError("no 99% latency line (was wrk run with --latency?)")
    errors = 0
    socket_errors = _SOCKET_ERRORS.search(text)
    if socket_errors is not None:
        errors += sum(int(count) for count in socket_errors.groups())
    non_2xx = _NON_2XX.search(text)
    if non_2xx is not None:
        errors += int(non_2xx.group(1))
    return WrkRun(
        requests_per_sec=float(rate.group(1)),
        p99_ms=duration_to_ms(p99.group(1), p99.group(2)),
        errors=errors,
    )


def server_order(server: str) -> tuple[int, str]:
    """Sort key putting known servers in SERVER_LABELS order, then unknown ones by name."""
    keys = list(SERVER_LABELS)
    return (keys.index(server) if server in keys else len(keys), server)


def page_order(page: str) -> tuple[int, str]:
    """Sort key putting known pages in PAGE_ORDER order, then unknown ones by name."""
    return (PAGE_ORDER.index(page) if page in PAGE_ORDER else len(PAGE_ORDER), page)


def server_label(server: str) -> str:
    """The name shown for a server key."""
    return SERVER_LABELS.get(server, server)


def collect_rows(results: Path) -> list[Row]:
    """Parse every wrk output in ``results`` and reduce repetitions to their median."""
    runs: dict[tuple[str, str, int], list[WrkRun]] = {}
    for path in sorted(results.glob("*.wrk")):
        name = _WRK_FILE.match(path.name)
        if name is None:
            raise WrkParseError(f"{path.name}: not named <server>__<page>__c<conns>__r<rep>.wrk")
        try:
            run = parse_wrk(path.read_text(encoding="utf-8", errors="replace"))
        except WrkParseError as err:
            raise WrkParseError(f"{path.name}: {err}") from err
        key = (name["server"], name["page"], int(name["conns"]))
        runs.setdefault(key, []).append(run)
    rows = [
        Row(
            server=server,
            page=page,
            conns=conns,
            requests_per_sec=statistics.median(r.requests_per_sec for r in reps),
            p99_ms=statistics.median(r.p99_ms for r in reps),
            errors=sum(r.errors for r in reps),
            reps=len(reps),
        )
        for (server, page, conns), reps in runs.items()
    ]
    rows.sort(key=lambda row: (server_order(row.server), page_order(row.page), row.conns))
    return rows


def ratio_rows(rows: Iterable[Row]) -> list[list[str]]:
    """ePHPm against each peer, per page and connection count.

    The req/s ratio is ePHPm / peer (above 1 means ePHPm served more); the p99 ratio is
    ePHPm / peer too (below 1 means ePHPm's tail latency was lower).
    """
    by_key = {(row.server, row.page, row.conns): row for row in rows}
    table = []
    for (server, page, conns), peer in by_key.items():
        subject = by_key.get((SUBJECT, page, conns))
        if server == SUBJECT or subject is None:
            continue
        table.append(
            [
                server_label(server),
                page,
                str(conns),
                format_ratio(subject.requests_per_sec, peer.requests_per_sec),
                format_ratio(subject.p99_ms, peer.p99_ms),
            ]
        )
    return table


def format_ratio(numerator: float, denominator: float) -> str:
    """A ratio with three significant digits (two decimals from 1 up), ``n/a`` for a zero denominator."""
    if denominator == 0:
        return "n/a"
    ratio = numerator / denominator
    return f"{ratio:.2f}" if ratio >= 1 else f"{ratio:.3g}"


def result_table(rows: Iterable[Row]) -> list[list[str]]:
    """The rows of the main table as strings."""
    return [
        [
            server_label(row.server),
            row.page,
            str(row.conns),
            f"{row.requests_per_sec:,.0f}",
            f"{row.p99_ms:.2f}",
            str(row.errors),
        ]
        for row in rows
    ]


def load_idle(results: Path) -> list[dict[str, object]]:
    """Every idle_conns.py result in ``results``, known servers first."""
    found = []
    for path in sorted(results.glob("*.idle.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["server"] = path.name[: -len(".idle.json")]
        found.append(data)
    found.sort(key=lambda item: server_order(str(item["server"])))
    return found


def idle_table(idle: Iterable[dict[str, object]]) -> list[list[str]]:
    """The rows of the idle keep-alive memory table as strings."""
    rows = []
    for item in idle:
        per_conn = item.get("kb_per_conn")
        rows.append(
            [
                server_label(str(item["server"])),
                str(item.get("requested")),
                str(item.get("still_open")),
                f"{int(item.get('rss_before_kb', 0)) / 1024:.1f}",
                f"{int(item.get('rss_after_kb', 0)) / 1024:.1f}",
                "n/a" if per_conn is None else f"{float(per_conn):.2f}",
            ]
        )
    return rows


def load_meta(results: Path) -> list[tuple[str, str]]:
    """The ``key<TAB>value`` lines of meta.tsv, in file order."""
    path = results / "meta.tsv"
    if not path.exists():
        return []
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("\t")
        if key:
            pairs.append((key, value))
    return pairs


def render_text(header: list[str], rows: list[list[str]]) -> str:
    """A plain table with columns padded to equal width (numbers right-aligned)."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    numeric = [all(_looks_numeric(row[i]) for row in rows) for i in range(len(header))] if rows else []

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(width) if numeric and numeric[i] else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ]
        return " | ".join(padded).rstrip()

    separator = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), separator] + [line(row) for row in rows])


def render_markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table (numbers right-aligned)."""
    numeric = [all(_looks_numeric(row[i]) for row in rows) for i in range(len(header))] if rows else []
    align = ["---:" if numeric and numeric[i] else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _looks_numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "", 1).isdigit() or cell == "n/a"


RESULT_HEADER = ["server", "page", "conns", "req/s", "p99 ms", "errors"]
RATIO_HEADER = ["peer", "page", "conns", "req/s ratio (ePHPm/peer)", "p99 ratio (ePHPm/peer)"]
IDLE_HEADER = ["server", "conns held", "still open", "RSS before MB", "RSS after MB", "KB per conn"]


def build_report(results: Path) -> tuple[str, str]:
    """The text shown on the terminal and the markdown document, for one results directory."""
    rows = collect_rows(results)
    ratios = ratio_rows(rows)
    idle = idle_table(load_idle(results))
    ran = {row.server for row in rows}

    text = [render_text(RESULT_HEADER, result_table(rows))]
    markdown = ["# ePHPm benchmark run", ""]
    meta = load_meta(results)
    if meta:
        markdown += [f"- {key}: {value}" for key, value in meta] + [""]
    markdown += ["## Throughput and tail latency", "", render_markdown(RESULT_HEADER, result_table(rows)), ""]

    if ratios:
        text += [
            "",
            "ePHPm / peer (req/s: above 1 is better; p99: below 1 is better)",
            render_text(RATIO_HEADER, ratios),
        ]
        markdown += [
            "## ePHPm against each peer (same run)",
            "",
            "req/s ratio above 1: ePHPm served more; p99 ratio below 1: ePHPm's tail was lower.",
            "",
            render_markdown(RATIO_HEADER, ratios),
            "",
        ]
    elif SUBJECT not in ran:
        note = "ePHPm did not run: no ratios."
        text += ["", note]
        markdown += [note, ""]

    if idle:
        text += ["", "Idle keep-alive connections (server RSS, process tree)", render_text(IDLE_HEADER, idle)]
        markdown += ["## Idle keep-alive memory", "", render_markdown(IDLE_HEADER, idle), ""]
    return "\n".join(text) + "\n", "\n".join(markdown)


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the report and write the markdown file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="directory with run.sh's raw outputs")
    parser.add_argument("--out", type=Path, required=True, help="markdown file to write")
    args = parser.parse_args(argv)
    try:
        text, markdown = build_report(args.results)
    except (WrkParseError, OSError, ValueError) as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    args.out.write_text(markdown, encoding="utf-8")
    print(f"\nmarkdown written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
