"""Turn the raw figures of run.py into table rows (with the issue's targets) and render them.

Every row holds medians for ours, acme 5.9 and the bare-bones limit, the ratios ours/5.9 and
ours/limit, the target from issue 5 or 11 where there is one, and PASS/FAIL against it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

MODE_ENV = {"nosleep": "PEBBLE_VA_NOSLEEP=1", "always_valid": "PEBBLE_VA_ALWAYS_VALID=1"}
MODE_NOTE = {"nosleep": "real http-01 validation", "always_valid": "no validation requests"}
Check = Callable[[float, float | None, float | None], bool]
Three = tuple[float | None, float | None, float | None]
ASYNC_TITLE = "200 issuances at concurrency 32, one run each"
COLUMNS = ("figure", "ours", "acme 5.9", "limit", "ours/5.9", "ours/limit", "target", "result")


def med(result: dict[str, Any] | None, key: str, scale: float = 1.0) -> float | None:
    """Median of ``key`` over a worker result's repetitions (None when not measured)."""
    if not result or not result.get("reps"):
        return None
    return float(statistics.median(rep[key] for rep in result["reps"])) * scale


def per_issuance(result: dict[str, Any] | None, key: str) -> float | None:
    """Median over repetitions of a batch total divided by its issuances."""
    if not result or not result.get("reps"):
        return None
    return float(statistics.median(rep[key] / rep["n"] for rep in result["reps"]))


def peak_mib(result: dict[str, Any] | None) -> float | None:
    """Median over repetitions of the worker process's peak RSS right after the measured part."""
    return med(result, "peak_rss_kib", 1 / 1024)


def growth_mib(result: dict[str, Any] | None) -> float | None:
    """Median of peak RSS minus the RSS when the measured part began (the workload's own)."""
    if not result or not result.get("reps"):
        return None
    growth = [r["peak_rss_kib"] - r["rss_before_kib"] for r in result["reps"]]
    return float(statistics.median(growth)) / 1024


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def row(
    figure: str,
    unit: str,
    ours: float | None,
    base: float | None,
    limit: float | None,
    target: str = "",
    check: Check | None = None,
) -> dict[str, Any]:
    if check is None or ours is None:
        result = "" if check is None else "n/a"
    else:
        result = "PASS" if check(ours, base, limit) else "FAIL"
    return {
        "figure": figure, "unit": unit, "ours": ours, "acme59": base, "limit": limit,
        "ours/acme59": ratio(ours, base), "ours/limit": ratio(ours, limit),
        "target": target, "result": result,
    }  # fmt: skip


def mode_rows(figures: dict[str, Any], mode: str = "nosleep") -> list[dict[str, Any]]:
    ours, base, lim = figures["ours"], figures["acme59"], figures["limit"]

    # Issue 11: at most 1.5x the limit's wall time and 1.2x its CPU for one issuance, in both
    # modes (issue 5 had 2x wall). Issue 5 sets ">=50x faster than acme 5.9" for real http-01
    # (NOSLEEP) only: without validation acme 5.9 sleeps once (1 s), and 50x would ask for
    # less than the limit's 1.14x. Each target has its own row, so each has its own result.
    def wall_check(o: float, b: float | None, lm: float | None) -> bool:
        return lm is not None and o <= 1.5 * lm

    def cpu_check(o: float, b: float | None, lm: float | None) -> bool:
        return lm is not None and o <= 1.2 * lm

    def vs_59_check(o: float, b: float | None, lm: float | None) -> bool:
        return b is not None and o * 50 <= b

    asy = figures["async"].get("async")

    def three(workload: str, fn: Callable[[dict[str, Any] | None], float | None]) -> Three:
        return fn(ours.get(workload)), fn(base.get(workload)), fn(lim.get(workload))

    one_wall = three("one", lambda r: med(r, "wall", 1e3))
    rows = [
        row("1 issuance, new account: wall", "ms", *one_wall, "<=1.5x limit", wall_check),
    ]
    if mode == "nosleep":
        rows.append(
            row(
                "1 issuance: wall against acme 5.9",
                "ms",
                *one_wall,
                ">=50x faster than 5.9",
                vs_59_check,
            )
        )
    rows += [
        row("1 issuance: client CPU", "ms", *three("one", lambda r: med(r, "cpu", 1e3)),
            "<=1.2x limit", cpu_check),
        row("1 issuance: HTTP requests", "n", *three("one", lambda r: med(r, "requests")),
            "<=10 and <=limit", lambda o, b, lm: o <= 10 and (lm is None or o <= lm)),
        row("1 issuance: TLS connections", "n", *three("one", lambda r: med(r, "tls")),
            "1", lambda o, b, lm: o == 1),
        row("20 in a row (1 account): wall", "s", *three("seq", lambda r: med(r, "wall"))),
        row("20 in a row: issuances/s", "/s", *three("seq", lambda r: med(r, "per_second"))),
        row("20 in a row: HTTP requests/issuance", "n",
            *three("seq", lambda r: per_issuance(r, "requests")),
            "<=8 and <=limit", lambda o, b, lm: o <= 8 and (lm is None or o <= lm)),
        row("20 in a row: TLS connections", "n", *three("seq", lambda r: med(r, "tls")),
            "1", lambda o, b, lm: o == 1),
        row("20 in a row: client CPU/issuance", "ms",
            *three("seq", lambda r: med(r, "cpu_per_issuance", 1e3))),
        row("20 in a row: peak RSS (process)", "MiB", *three("seq", peak_mib)),
        row("20 in a row: RSS growth during the run", "MiB", *three("seq", growth_mib)),
        row("20 with 8 threads: wall", "s", *three("threads", lambda r: med(r, "wall")),
            "<=2x limit", lambda o, b, lm: lm is not None and o <= 2 * lm),
        row("20 with 8 threads: issuances/s", "/s",
            *three("threads", lambda r: med(r, "per_second"))),
        row("20 with 8 threads: HTTP requests/issuance", "n",
            *three("threads", lambda r: per_issuance(r, "requests"))),
        row("20 with 8 threads: TLS connections", "n",
            *three("threads", lambda r: med(r, "tls"))),
        row("20 with 8 threads: client CPU/issuance", "ms",
            *three("threads", lambda r: med(r, "cpu_per_issuance", 1e3))),
    ]  # fmt: skip
    lim_thr = lim.get("threads")
    rows += [
        row("200 async @32: issuances/s (limit: 8 thr)", "/s", med(asy, "per_second"), None,
            med(lim_thr, "per_second"), ">=limit 8 threads",
            lambda o, b, lm: lm is not None and o >= lm),
        row("200 async @32: wall", "s", med(asy, "wall"), None, None),
        row("200 async @32: client CPU/issuance (limit: 8 thr)", "ms",
            med(asy, "cpu_per_issuance", 1e3), None, med(lim_thr, "cpu_per_issuance", 1e3),
            "<=1.5x limit", lambda o, b, lm: lm is not None and o <= 1.5 * lm),
        row("200 async @32: HTTP requests/issuance", "n", per_issuance(asy, "requests"), None,
            None),
        row("200 async @32: TLS connections", "n", med(asy, "tls"), None, None),
        row("200 async @32: peak RSS (process)", "MiB", peak_mib(asy), None, None),
        row("200 async @32: RSS growth during the run", "MiB", growth_mib(asy), None, None),
    ]  # fmt: skip
    return rows


def library_rows(libraries: dict[str, Any]) -> list[dict[str, Any]]:
    """The async workload per HTTP library (ours only; the limit column is its 8 threads)."""
    out = []
    for library, result in libraries.items():
        if "missing" in result:
            out.append(row(f"{library}: not measured ({result['missing']})", "n", None, None, None))
            continue
        out += [
            row(f"{library}: issuances/s", "/s", med(result, "per_second"), None, None),
            row(f"{library}: client CPU/issuance", "ms", med(result, "cpu_per_issuance", 1e3),
                None, None),
            row(f"{library}: TLS connections", "n", med(result, "tls"), None, None),
        ]  # fmt: skip
    return out


def polite_rows(polite: dict[str, Any]) -> list[dict[str, Any]]:
    def three(fn: Callable[[dict[str, Any] | None], float | None]) -> Three:
        return fn(polite.get("ours")), fn(polite.get("acme59")), fn(polite.get("limit"))

    return [
        row("polls per authorization", "n", *three(lambda r: med(r, "authz_polls_per_authz")),
            "<=8", lambda o, b, lm: o <= 8),
        row("polls per order (after finalize)", "n",
            *three(lambda r: med(r, "order_polls_per_order"))),
        row("issuance wall (validation takes 2 s)", "s",
            *three(lambda r: med(r, "latency_median"))),
    ]  # fmt: skip


def import_rows(imports: dict[str, Any]) -> list[dict[str, Any]]:
    def m(client: str, key: str) -> float | None:
        values = imports.get(client, {}).get(key)
        return statistics.median(values) * 1e3 if values else None

    return [
        row("import acme.client: CPU", "ms", m("ours", "cpu"), m("acme59", "cpu"), None,
            "<=0.5x acme 5.9", lambda o, b, lm: b is not None and o <= 0.5 * b),
        row("import acme.client: wall", "ms", m("ours", "wall"), m("acme59", "wall"), None),
    ]  # fmt: skip


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """All table rows, each tagged with its section title."""
    out: list[dict[str, Any]] = []
    for mode, figures in results["modes"].items():
        title = f"Pebble {MODE_ENV[mode]}: {MODE_NOTE[mode]}"
        out += [{"section": title, **r} for r in mode_rows(figures, mode)]
        if "async_libraries" in figures:
            title = f"Async client per HTTP library: {ASYNC_TITLE} (Pebble {MODE_ENV[mode]})"
            out += [{"section": title, **r} for r in library_rows(figures["async_libraries"])]
        if "polite" in figures:
            title = "Politeness: Pebble NOSLEEP, every http-01 fetch answered after 2 s"
            out += [{"section": title, **r} for r in polite_rows(figures["polite"])]
    title = "import acme.client in a fresh interpreter (median)"
    out += [{"section": title, **r} for r in import_rows(results["import"])]
    return out


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"
    if unit == "n":
        return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "/s":
        return f"{value:.1f}/s"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    return f"{value:.1f} {unit}"


def render(table: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """A plain-text table, one block per section."""
    lines = [
        f"acme benchmarks ({meta['plan']} run, commit {meta['commit']}, {meta['cpus']} CPUs, "
        f"Python {meta['python']}, pebble {meta['pebble']}, {meta.get('seconds', '?')} s, "
        f"load average {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after)",
        "limit = bare-bones client (requests + hand-made JWS, 5 ms polls); medians; "
        "ratios are ours divided by the other column",
    ]
    if meta.get("async_missing"):
        lines.append(f"async client not measured: {meta['async_missing']}")
    cells = [
        [r["figure"], fmt(r["ours"], r["unit"]), fmt(r["acme59"], r["unit"]),
         fmt(r["limit"], r["unit"]), fmt(r["ours/acme59"], "x"), fmt(r["ours/limit"], "x"),
         r["target"], r["result"]]
        for r in table
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in [list(COLUMNS), *cells]) for i in range(len(COLUMNS))]

    def line(values: list[str]) -> str:
        parts = [values[0].ljust(widths[0])]
        parts += [v.rjust(w) for v, w in zip(values[1:6], widths[1:6], strict=True)]
        parts += [values[6].ljust(widths[6]), values[7]]
        return "  ".join(parts).rstrip()

    for incident in meta.get("incidents", []):
        lines.append(
            f"incident: {incident['client']} {incident['workload']} failed "
            f"({incident['error'][:120]}); re-run on a fresh Pebble; logs: {incident['evidence']}"
        )
    section = None
    for r, c in zip(table, cells, strict=True):
        if r["section"] != section:
            section = r["section"]
            lines += ["", f"== {section}", line(list(COLUMNS))]
        lines.append(line(c))
    return "\n".join(lines)
