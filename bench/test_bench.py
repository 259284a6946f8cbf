#!/usr/bin/env python3
"""Unit tests for the bench helpers: wrk parsing and reporting, the idle test's HTTP reader.

Run: python3 -m unittest discover -s bench -p 'test_*.py'
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import idle_conns
import report

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:18081/hello.php
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  313.45us   8.73ms   88.56%
    Req/Sec    31.61k     1.53k   33.87k    80.00%
  Latency Distribution
     50%    0.97ms
     75%    1.09ms
     90%    1.29ms
     99%  {p99}
  314567 requests in 10.00s, 50.39MB read
{extra}Requests/sec:  {rate}
Transfer/sec:      5.04MB
"""


def wrk_text(rate: str = "31451.85", p99: str = "2.03ms", extra: str = "") -> str:
    return WRK_OUTPUT.format(rate=rate, p99=p99, extra=extra)


class ParseWrkTests(unittest.TestCase):
    def test_reads_rate_and_p99(self) -> None:
        run = report.parse_wrk(wrk_text())
        self.assertAlmostEqual(run.requests_per_sec, 31451.85)
        self.assertAlmostEqual(run.p99_ms, 2.03)
        self.assertEqual(run.errors, 0)

    def test_normalises_every_unit_to_ms(self) -> None:
        cases = {"850.00us": 0.85, "12.50ms": 12.5, "1.18s": 1180.0, "2.00m": 120_000.0}
        for printed, expected in cases.items():
            with self.subTest(printed=printed):
                self.assertAlmostEqual(report.parse_wrk(wrk_text(p99=printed)).p99_ms, expected)

    def test_counts_socket_errors_and_bad_statuses(self) -> None:
        extra = "  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 5\n"
        self.assertEqual(report.parse_wrk(wrk_text(extra=extra)).errors, 15)

    def test_rejects_output_without_latency_distribution(self) -> None:
        text = "\n".join(line for line in wrk_text().splitlines() if "99%" not in line)
        with self.assertRaises(report.WrkParseError):
            report.parse_wrk(text)

    def test_rejects_output_without_rate(self) -> None:
        with self.assertRaises(report.WrkParseError):
            report.parse_wrk("unable to connect to 127.0.0.1:18080 Connection refused\n")


class ReportTests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.results = Path(self.dir.name)

    def tearDown(self) -> None:
        self.dir.cleanup()

    def write(self, name: str, text: str) -> None:
        (self.results / name).write_text(text, encoding="utf-8")

    def test_median_of_repetitions(self) -> None:
        for rep, rate in enumerate(["100", "300", "200"], start=1):
            self.write(f"nginx__hello.php__c32__r{rep}.wrk", wrk_text(rate=rate))
        [row] = report.collect_rows(self.results)
        self.assertEqual((row.requests_per_sec, row.reps), (200.0, 3))

    def test_ratios_only_where_ephpm_ran(self) -> None:
        self.write("ephpm__hello.php__c32__r1.wrk", wrk_text(rate="300", p99="1.00ms"))
        self.write("nginx__hello.php__c32__r1.wrk", wrk_text(rate="100", p99="4.00ms"))
        self.write("nginx__hello.php__c256__r1.wrk", wrk_text(rate="100"))
        ratios = report.ratio_rows(report.collect_rows(self.results))
        self.assertEqual(ratios, [["nginx + php-fpm", "hello.php", "32", "3.00", "0.25"]])

    def test_format_ratio(self) -> None:
        self.assertEqual(report.format_ratio(6.384, 1), "6.38")
        self.assertEqual(report.format_ratio(0.01744, 1), "0.0174")
        self.assertEqual(report.format_ratio(1, 0), "n/a")

    def test_orders_servers_and_pages(self) -> None:
        for name in ["nginx__heavy.php__c32", "ephpm__heavy.php__c32", "nginx__hello.php__c32"]:
            self.write(f"{name}__r1.wrk", wrk_text())
        keys = [(r.server, r.page) for r in report.collect_rows(self.results)]
        self.assertEqual(keys, [("ephpm", "heavy.php"), ("nginx", "hello.php"), ("nginx", "heavy.php")])

    def test_report_without_ephpm_says_so(self) -> None:
        self.write("nginx__hello.php__c32__r1.wrk", wrk_text())
        text, markdown = report.build_report(self.results)
        self.assertIn("ePHPm did not run", text)
        self.assertIn("| nginx + php-fpm | hello.php | 32 | 31,452 | 2.03 | 0 |", markdown)

    def test_report_includes_idle_results_and_meta(self) -> None:
        self.write("nginx__hello.php__c32__r1.wrk", wrk_text())
        idle = {
            "requested": 10,
            "still_open": 10,
            "rss_before_kb": 2048,
            "rss_after_kb": 3072,
            "kb_per_conn": 102.4,
        }
        self.write("nginx.idle.json", json.dumps(idle))
        self.write("meta.tsv", "date\ttoday\n")
        _, markdown = report.build_report(self.results)
        self.assertIn("| nginx + php-fpm | 10 | 10 | 2.0 | 3.0 | 102.40 |", markdown)
        self.assertIn("- date: today", markdown)

    def test_rejects_badly_named_file(self) -> None:
        self.write("stray.wrk", wrk_text())
        with self.assertRaises(report.WrkParseError):
            report.collect_rows(self.results)


def read_from(data: bytes):
    """Run read_response over a reader that holds ``data`` followed by EOF."""

    async def run():
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await idle_conns.read_response(reader)

    return asyncio.run(run())


class ReadResponseTests(unittest.TestCase):
    def test_content_length_body(self) -> None:
        status, headers, body = read_from(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        self.assertEqual((status, body), (200, b"hello"))
        self.assertEqual(headers["content-length"], "5")

    def test_chunked_body_with_trailer(self) -> None:
        data = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        self.assertEqual(read_from(data)[2], b"Hello, World!")

    def test_body_ended_by_close_is_refused(self) -> None:
        with self.assertRaises(idle_conns.ResponseError):
            read_from(b"HTTP/1.0 200 OK\r\n\r\nhello")

    def test_bad_status_line(self) -> None:
        with self.assertRaises(idle_conns.ResponseError):
            read_from(b"SSH-2.0-OpenSSH\r\n\r\n")

    def test_truncated_body(self) -> None:
        with self.assertRaises(asyncio.IncompleteReadError):
            read_from(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")


class ProcessTreeTests(unittest.TestCase):
    def test_own_rss_is_positive_and_tree_contains_self(self) -> None:
        self.assertIn(os.getpid(), idle_conns.process_tree(os.getpid()))
        self.assertGreater(idle_conns.tree_rss_kb(os.getpid()), 0)

    def test_missing_process(self) -> None:
        with self.assertRaises(ProcessLookupError):
            idle_conns.tree_rss_kb(2**22 + 1)


if __name__ == "__main__":
    unittest.main()
