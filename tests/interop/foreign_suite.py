"""Run another project's pytest suite in a subprocess and read back what happened to each test.

Used to run certbot 5.8's and acme 5.9's own unit tests against this package: the suite runs in
its own interpreter (a venv the caller built) under its own rules, not ours (no `filterwarnings =
error`, no `tests/conftest.py`), with a hard time limit; outcomes come from pytest's JUnit XML
report (format xunit1, which names each test's file), so nothing depends on scraping the console.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["OUTCOMES", "Outcome", "SuiteResult", "run_suite"]

OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One test: its pytest node id (relative to the suite's rootdir), outcome and message."""

    nodeid: str
    file: str
    outcome: str
    message: str


@dataclasses.dataclass(frozen=True)
class SuiteResult:
    """Every test's outcome, pytest's exit code and its console output (for failure reports)."""

    outcomes: tuple[Outcome, ...]
    returncode: int
    output: str

    def counts(self) -> collections.Counter[str]:
        return collections.Counter(o.outcome for o in self.outcomes)

    def counts_by_file(self) -> dict[str, collections.Counter[str]]:
        per_file: dict[str, collections.Counter[str]] = {}
        for o in self.outcomes:
            per_file.setdefault(o.file, collections.Counter())[o.outcome] += 1
        return dict(sorted(per_file.items()))

    def problems(self) -> list[Outcome]:
        """The failed and errored tests."""
        return [o for o in self.outcomes if o.outcome in ("failed", "error")]

    def summary(self) -> str:
        c = self.counts()
        return ", ".join(f"{c[name]} {name}" for name in OUTCOMES)


def _outcome(case: ET.Element) -> tuple[str, str]:
    for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        found = case.find(tag)
        if found is not None:
            return name, (found.get("message") or "").strip()
    return "passed", ""


def _parse_junit(report: Path) -> tuple[Outcome, ...]:
    outcomes = []
    for case in ET.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        file = case.get("file") or classname.replace(".", "/") + ".py"
        # classname is "dotted.module[.Class]"; the class part is what the file path lacks.
        module = file.removesuffix(".py").replace("/", ".")
        inner = classname.removeprefix(module).lstrip(".")
        nodeid = "::".join(part for part in (file, inner.replace(".", "::"), name) if part)
        outcome, message = _outcome(case)
        outcomes.append(Outcome(nodeid, file, outcome, message))
    return tuple(outcomes)


def run_suite(
    python: Path,
    paths: Sequence[Path],
    *,
    rootdir: Path,
    timeout: float,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> SuiteResult:
    """Run `python -m pytest` on `paths` with `rootdir`, within `timeout` seconds.

    A run that overruns is killed and raises `subprocess.TimeoutExpired`; a run that produces no
    report (pytest could not start, collection crashed) raises `RuntimeError` with its output.
    """
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    base_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="foreign-suite-") as tmp:
        report = Path(tmp) / "report.xml"
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\njunit_family = xunit1\n")
        done = subprocess.run(
            [
                str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-c", str(ini), "--rootdir", str(rootdir), f"--junitxml={report}",
                *extra_args, *(str(p) for p in paths),
            ],
            cwd=tmp,  # not the suite: `python -m` puts the cwd first on sys.path
            env=base_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )  # fmt: skip
        output = done.stdout + done.stderr
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report (exit {done.returncode}):\n{output}")
        return SuiteResult(_parse_junit(report), done.returncode, output)
