#!/usr/bin/env python3
"""Runs one notebook of Notebooks/ headless, with its parameters overridden.

    .venv/bin/python Scripts/run_notebook.py Notebooks/recovery.ipynb sweep_dir=/tmp/sweep figures=/tmp/figs

Each NAME=VALUE replaces a name of the notebook's parameters cell (the cell tagged
`parameters`): the values are inserted as a cell right after it, as strings. The notebook runs
in its own folder (Notebooks/), so relative paths are relative to it; absolute paths are best
for inputs elsewhere. With --output FILE the executed notebook (outputs included) is written
there. Exit status 0 when every cell ran, 1 when a cell raised (its error is printed), 2 for
bad arguments.
"""

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("parameters", nargs="*", help="NAME=VALUE overrides of the parameters cell")
    parser.add_argument("--output", type=Path, help="write the executed notebook here")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()

    notebook = nbformat.read(args.notebook, as_version=4)
    cells = notebook.cells
    index = next((i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])), None)
    if index is None:
        print(f"{args.notebook}: no cell tagged 'parameters'", file=sys.stderr)
        return 2
    declared = {line.split("=", 1)[0].strip() for line in cells[index].source.splitlines() if "=" in line and not line.startswith("#")}
    overrides = []
    for item in args.parameters:
        name, sep, value = item.partition("=")
        if not sep or name not in declared:
            print(f"{args.notebook}: '{item}' is not NAME=VALUE for a parameter ({', '.join(sorted(declared))})", file=sys.stderr)
            return 2
        overrides.append(f"{name} = {value!r}")
    if overrides:
        injected = nbformat.v4.new_code_cell("# Injected parameters\n" + "\n".join(overrides))
        injected.metadata["tags"] = ["injected-parameters"]
        cells.insert(index + 1, injected)

    client = NotebookClient(
        notebook, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(args.notebook.parent.resolve())}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"{args.notebook}: a cell failed\n{error}", file=sys.stderr)
        if args.output:
            nbformat.write(notebook, args.output)
        return 1
    if args.output:
        nbformat.write(notebook, args.output)
    print(f"{args.notebook}: {sum(1 for c in notebook.cells if c.cell_type == 'code')} code cells ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
