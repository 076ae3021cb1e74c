"""Run every benchmark in this folder and print its ratios.

Each ``bench_*.py`` module has ``run() -> dict`` (figures measured in one run,
including at least one ``*_ratio`` entry) and can also be run on its own.
Usage: ``make bench`` or ``.venv/bin/python benchmarks/run.py [name ...]``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    names = argv if argv else sorted(p.stem for p in HERE.glob("bench_*.py"))
    sys.path.insert(0, str(HERE))
    results = {}
    for name in names:
        module = importlib.import_module(name if name.startswith("bench_") else f"bench_{name}")
        print(f"== {module.__name__} ==", flush=True)
        start = time.perf_counter()
        figures = module.run()
        results[module.__name__] = figures
        for key, value in figures.items():
            shown = f"{value:.3g}" if isinstance(value, float) else value
            print(f"  {key}: {shown}")
        print(f"  (took {time.perf_counter() - start:.1f} s)", flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"figures saved to {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
