"""Run acme 5.9's own unit tests against this package and print the outcome per test file.

A compatibility check run by hand, not in CI (some of these tests exercise acme 5.9's private
names, which this package need not have; see docs/compat.md):

    .venv/bin/python tests/interop/acme59_unit_suite.py [--version 5.9.0] [--timeout 600]

The acme wheel from PyPI carries its tests in `acme/_internal/tests/`. They are copied under
`.venv/foreign/acme-<version>/suite/acme/_internal/tests/` and run with this checkout's `acme`
(the one this interpreter imports): a pytest plugin made here registers that directory as the
module `acme._internal`, so the tests' own imports (`from acme._internal.tests import test_util`)
work unchanged while `acme` itself is ours. Only PyPI is contacted (once, to fetch the wheel).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from interop.foreign_suite import OUTCOMES, SuiteResult, run_suite  # noqa: E402

_SHIM = '''"""pytest plugin: acme 5.9's test package as `acme._internal` beside our `acme`."""
import importlib.util
import sys
from pathlib import Path

import acme

_INTERNAL = Path({internal!r})
_spec = importlib.util.spec_from_file_location(
    "acme._internal", _INTERNAL / "__init__.py", submodule_search_locations=[str(_INTERNAL)]
)
_module = importlib.util.module_from_spec(_spec)
sys.modules["acme._internal"] = _module
_spec.loader.exec_module(_module)
acme._internal = _module
'''
# Never executed: our acme is imported first. Loud if that ever stops being true.
_GUARD = 'raise ImportError("acme 5.9 test copy: the real acme must be imported before this")\n'
_TESTS_PREFIX = "acme/_internal/tests/"


def _fetch_wheel(version: str, cache: Path, timeout: float) -> Path:
    wheels = sorted(cache.glob(f"acme-{version}-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                "--only-binary=:all:", "-d", str(cache), f"acme=={version}",
            ],
            check=True,
            timeout=timeout,
        )  # fmt: skip
        wheels = sorted(cache.glob(f"acme-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download gave no acme {version} wheel in {cache}")
    return wheels[0]


def _lay_out(wheel: Path, cache: Path) -> tuple[Path, Path]:
    """Copy the tests out of the wheel; return (suite root, plugin directory)."""
    suite = cache / "suite"
    plugin_dir = cache / "plugin"
    shutil.rmtree(suite, ignore_errors=True)
    plugin_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if n.startswith(_TESTS_PREFIX)]
        if not members:
            raise SystemExit(f"{wheel.name} has no {_TESTS_PREFIX}")
        archive.extractall(suite, members)
    internal = suite / "acme" / "_internal"
    (suite / "acme" / "__init__.py").write_text(_GUARD)
    (internal / "__init__.py").write_text("")
    (plugin_dir / "acme59_shim.py").write_text(_SHIM.format(internal=str(internal)))
    return suite, plugin_dir


def _check_our_acme() -> None:
    import acme

    if Path(acme.__file__).resolve() != ROOT / "src" / "acme" / "__init__.py":
        raise SystemExit(f"this interpreter imports {acme.__file__}, not {ROOT / 'src'}: use .venv")


def _report(result: SuiteResult) -> None:
    width = max(len(f) for f in result.counts_by_file())
    print(f"{'file':<{width}}  " + "  ".join(f"{o:>7}" for o in OUTCOMES))
    for file, counts in result.counts_by_file().items():
        print(f"{file:<{width}}  " + "  ".join(f"{counts[o]:>7}" for o in OUTCOMES))
    print(f"{'total':<{width}}  " + "  ".join(f"{result.counts()[o]:>7}" for o in OUTCOMES))
    for problem in result.problems():
        first = problem.message.splitlines()[0] if problem.message else ""
        print(f"{problem.outcome.upper()} {problem.nodeid}\n    {first[:300]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="5.9.0", help="acme release whose tests to run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds, for each step")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (e.g. -k name)")
    args = parser.parse_args(argv)
    _check_our_acme()
    cache = ROOT / ".venv" / "foreign" / f"acme-{args.version}"
    cache.mkdir(parents=True, exist_ok=True)
    suite, plugin_dir = _lay_out(_fetch_wheel(args.version, cache, args.timeout), cache)
    result = run_suite(
        Path(sys.executable),
        [suite / "acme" / "_internal" / "tests"],
        rootdir=suite,
        timeout=args.timeout,
        extra_args=["-p", "acme59_shim", *args.pytest_args],
        env={"PYTHONPATH": str(plugin_dir)},
    )
    _report(result)
    return 1 if result.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
