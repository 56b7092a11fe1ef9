"""What the benchmark scripts share: the `--out FILE.json` option and `write_result`, which records a
run's figures together with the machine and the command that measured them.

A record is one JSON object (see `RECORD_FIELDS`); `python benchmarks/report.py` turns the records in
benchmarks/results/ into docs/results.md.

    from common import add_out_argument, write_result   # benchmarks/ is on sys.path when a script runs
    parser = argparse.ArgumentParser(...)
    add_out_argument(parser)
    ...
    write_result(args.out, "search_speed", figures)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "benchmarks" / "results"
MEASURED = "measured by a benchmark run"
RECORD_FIELDS = ("benchmark", "title", "provenance", "date", "command", "machine", "git_commit", "figures")
MACHINE_FIELDS = ("cpu", "cores", "load_average_at_start")

# Taken when the script imports this module, i.e. before it starts measuring.
LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, metavar="FILE.json", default=None,
                        help="Also write the figures, with the machine and this command, to this JSON file "
                             "(e.g. benchmarks/results/NAME.json; `python benchmarks/report.py` renders them).")


def cpu_model() -> str:
    """The CPU's model name, from `lscpu` or else /proc/cpuinfo; "not recorded" when neither says."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             env={**os.environ, "LC_ALL": "C"}).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "not recorded"


def git_commit() -> str:
    """The checked-out commit, with `+changes` when the working tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not recorded"
    return commit + ("+changes" if dirty else "")


def machine() -> dict[str, Any]:
    """The CPU model, core count and the load average (1 minute) when the script started."""
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "load_average_at_start": None if LOAD_AT_START is None else round(LOAD_AT_START, 2),
            "gpu": gpu or "none", "system": platform.platform(), "python": platform.python_version()}


def command_line() -> str:
    """The command as it was run: `python benchmarks/NAME.py ARGS...`."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars and arrays, paths and tuples turned into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalar or array
        return jsonable(value.tolist())
    return value


def write_result(path: str | Path | None, benchmark: str, figures: dict[str, Any], command: str | None = None, *,
                 title: str | None = None, notes: str | None = None) -> dict[str, Any] | None:
    """Write `figures` (a dict: numbers, strings, nested dicts, or lists of dicts as table rows) to `path` as
    one record with the machine, date, git commit and command line. Nothing is written when `path` is None."""
    if path is None:
        return None
    record = {
        "benchmark": benchmark,
        "title": title or benchmark,
        "provenance": MEASURED,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command or command_line(),
        "machine": machine(),
        "git_commit": git_commit(),
        "figures": jsonable(figures),
    }
    if notes:
        record["notes"] = notes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"figures written to {path}", file=sys.stderr)
    return record
