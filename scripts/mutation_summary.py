"""Per-module mutation counts from mutmut's result files (`mutants/**/*.py.meta`), as a Markdown table and JSON.

`test seconds` sums the wall time of each mutant's test process (they run `--max-children` at a time, so a module's
share of a run's wall time is about this sum divided by the number of children).

Run after `mutmut run` (see `scripts/mutation.sh`):

    python scripts/mutation_summary.py                     # prints the table
    python scripts/mutation_summary.py --json counts.json  # also writes the counts
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path


# mutmut 3's exit-code meanings (mutmut/stats.py): 1 and 3 = a test failed (killed), 0 = every test passed
# (survived), 5 / 33 = no test covers the mutated function, 36 / +-24 / 152 / 255 = timeout, None = not run (outside
# the patterns scripts/mutation.sh passes).
_STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout"}
_STATUS.update({-24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"})
COLUMNS = ("mutants", "killed", "survived", "no tests", "timeout", "not checked", "other", "test seconds")


def summarise(mutants_dir: Path) -> dict[str, dict[str, int]]:
    """Counts of each outcome per mutated module."""
    out: dict[str, dict[str, int]] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        if not codes:
            continue
        counts = Counter(_STATUS.get(code, "other") for code in codes.values())
        row = {"mutants": len(codes), **{c: counts.get(c, 0) for c in COLUMNS[1:-1]}}
        # wall seconds of the mutants' test processes (mutmut's durations_by_key; they run --max-children at a time)
        row["test seconds"] = round(sum(data.get("durations_by_key", {}).values()))
        out[str(meta.relative_to(mutants_dir))[: -len(".meta")]] = row
    return out


def survivors(mutants_dir: Path, patterns: list[str]) -> list[str]:
    """Names of the mutants matching `patterns` (fnmatch, as `mutmut run`) that survived or had no tests."""
    names = []
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items():
            if _STATUS.get(code) in ("survived", "no tests") and any(fnmatch(name, p) for p in patterns):
                names.append(name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants_dir", default="mutants", help="mutmut's working folder.")
    parser.add_argument("--json", default=None, help="Also write the counts to this JSON file.")
    parser.add_argument(
        "--survivors",
        nargs="+",
        default=None,
        metavar="PATTERN",
        help="Only print the names of the surviving (or untested) mutants matching these mutmut patterns, one a line.",
    )
    args = parser.parse_args()
    if args.survivors:
        print("\n".join(survivors(Path(args.mutants_dir), args.survivors)))  # noqa: T201
        return
    counts = summarise(Path(args.mutants_dir))
    if not counts:
        raise SystemExit(f"no mutmut results under {args.mutants_dir}/; run `mutmut run` first.")
    lines = ["| module | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for module, row in counts.items():
        lines.append(f"| {module} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    total = {c: sum(r[c] for r in counts.values()) for c in COLUMNS}
    lines.append("| **all** | " + " | ".join(str(total[c]) for c in COLUMNS) + " |")
    print("\n".join(lines))  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(counts, indent=2) + "\n")


if __name__ == "__main__":
    main()
