#!/usr/bin/env python3
"""Sweeps every experiment of the README's catalogue table over a range of seeds and writes each
one's pass rate into the table's "Passes" column.

    Scripts/build-release
    python3 Scripts/catalogue.py --seeds 1..50 --update-readme

Each row's experiment is run by `crosswind sweep Experiments/NAME.yaml --seeds A..B` (its output
in runs/catalogue/NAME/); the column then reads `50/50`, or `48/50` with the failing seeds listed
in runs/catalogue/pass-rates.json beside their replay commands. `--only NAME...` sweeps some rows
and leaves the others' figures as they are; `--apply FILE` writes the figures of an earlier
pass-rates.json into the table without sweeping. Exit status 0 when every swept experiment passed at
every seed, 1 when one did not, 2 when a sweep could not run.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HEADER = "| Experiment | Reproduces | Reported | Passes |"
ROW = re.compile(r"^\| \[`(?P<name>[A-Za-z0-9._-]+)`\]\(Experiments/(?P=name)\.yaml\) \|")


def catalogue_rows(lines):
    """The indices of the catalogue table's rows and the experiment each names."""
    try:
        start = lines.index(HEADER)
    except ValueError:
        sys.exit(f"catalogue: README.md has no table headed {HEADER!r}")
    rows = []
    for index in range(start + 2, len(lines)):
        match = ROW.match(lines[index])
        if not match:
            break
        rows.append((index, match.group("name")))
    return rows


def sweep(binary, name, seeds, jobs, out):
    """Runs one sweep; returns its sweep.json, or None when it ended without one."""
    directory = out / name
    command = [str(binary), "sweep", f"Experiments/{name}.yaml", "--seeds", seeds, "--jobs", str(jobs), "--out", str(directory)]
    began = time.monotonic()
    finished = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    summary = directory / "sweep.json"
    if finished.returncode == 2 or not summary.exists():
        print(f"catalogue: {name}: sweep ended with status {finished.returncode}: {finished.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    result = json.loads(summary.read_text())
    result["wallSeconds"] = round(time.monotonic() - began, 1)
    return result


def with_passes(line, figure):
    """The row with its last cell set to `figure` (the cell is added when the row has none)."""
    cells = line.rstrip().rstrip("|").split(" | ")
    if len(cells) == 4:
        cells[3] = figure
    else:
        cells.append(figure)
    return " | ".join(cells) + " |"


def apply(path):
    """Writes the figures of a pass-rates.json into the README's table."""
    figures = json.loads(path.read_text())["experiments"]
    lines = README.read_text().split("\n")
    for index, name in catalogue_rows(lines):
        if name in figures:
            lines[index] = with_passes(lines[index], f"{figures[name]['passed']}/{figures[name]['runs']}")
    README.write_text("\n".join(lines))
    return 0 if all(figure["passed"] == figure["runs"] for figure in figures.values()) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1..50")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--crosswind", default=str(ROOT / ".build/release/crosswind"))
    parser.add_argument("--out", default=str(ROOT / "runs/catalogue"))
    parser.add_argument("--only", nargs="*", help="Experiment names to sweep (default: every row).")
    parser.add_argument("--update-readme", action="store_true", help="Write the pass rates into README.md.")
    parser.add_argument("--apply", help="Write the figures of this pass-rates.json into README.md; sweep nothing.")
    arguments = parser.parse_args()
    if arguments.apply:
        return apply(Path(arguments.apply))

    binary = Path(arguments.crosswind)
    if not binary.exists():
        sys.exit(f"catalogue: {binary} does not exist; build it with Scripts/build-release")
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = README.read_text().split("\n")
    rows = catalogue_rows(lines)
    wanted = set(arguments.only or [name for _, name in rows])
    unknown = wanted - {name for _, name in rows}
    if unknown:
        sys.exit(f"catalogue: not in the README's catalogue table: {', '.join(sorted(unknown))}")

    results, status = {}, 0
    for index, name in rows:
        if name not in wanted:
            continue
        result = sweep(binary, name, arguments.seeds, arguments.jobs, out)
        if result is None:
            status = 2
            continue
        failing = [failure.get("seed") for failure in result.get("failures", [])]
        results[name] = {
            "passed": result["passed"], "runs": result["runs"], "failingSeeds": failing,
            "wallSeconds": result["wallSeconds"],
            "command": f"crosswind sweep Experiments/{name}.yaml --seeds {arguments.seeds}",
        }
        print(f"{name}: passed {result['passed']} of {result['runs']}" + (f" (failing seeds {failing})" if failing else "") + f"  [{result['wallSeconds']} s]", flush=True)
        if result["passed"] != result["runs"]:
            status = max(status, 1)
        lines[index] = with_passes(lines[index], f"{result['passed']}/{result['runs']}")

    (out / "pass-rates.json").write_text(json.dumps({"seeds": arguments.seeds, "experiments": results}, indent=2) + "\n")
    if arguments.update_readme:
        README.write_text("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
