"""LSHIndex before and after a change, timed in one run against exact search.

Run:  python benchmarks/before_after.py --before 417ed4d:16,80,16 --after 11,40,8,2 --n 50000

``--before COMMIT:BITS,TABLES,PROBES`` takes ``imgsim_tutorial`` as it was at a git commit
(copied out of git into a temporary folder as the package ``imgsim_before``) and one setting of
its LSHIndex, centred; repeat it for several commits. ``--after BITS,TABLES,PROBES[,MIN_COLLISIONS]``
is a setting of the package as it is now. On the same SYNTHETIC data as ``benchmarks/run.py``
(``realistic_embeddings(n, seed=n)``), each gets recall@10 and its single-query milliseconds on
one thread, timed with exact search in the same interleaved rounds by the course's one protocol
(``imgsim_tutorial.evaluation.compare_speeds``), so that the ratios share the machine's state.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from run import K  # noqa: E402

import imgsim_tutorial as t  # noqa: E402
from imgsim_tutorial.data.synthetic import realistic_embeddings  # noqa: E402
from imgsim_tutorial.evaluation import compare_speeds, pinned_threads  # noqa: E402


def package_at(commit: str, folder: Path, name: str):
    """``imgsim_tutorial`` at ``commit``, importable as ``name``."""
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", commit, "imgsim_tutorial"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    shutil.move(str(folder / "imgsim_tutorial"), str(folder / name))
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"{name}.hash_tables")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="append", default=[], help="COMMIT:BITS,TABLES,PROBES (repeatable)")
    parser.add_argument("--after", action="append", default=[], help="BITS,TABLES,PROBES[,MIN_COLLISIONS] (repeatable)")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--single", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    with pinned_threads(1):
        data, queries = realistic_embeddings(args.n, 768, n_queries=args.queries, seed=args.n)
    exact = t.CosineIndex().add(data)
    truth = exact.search(queries, K)[1]
    contenders = {}  # label -> LSHIndex (of the package before or after)
    with tempfile.TemporaryDirectory() as folder:
        for number, spec in enumerate(args.before):
            commit, numbers = spec.split(":")
            bits, tables, probes = map(int, numbers.split(","))
            module = package_at(commit, Path(folder), f"imgsim_before_{number}")
            # n_probes counts the query's own bucket; before that rule it counted only the extra ones
            counts_own = inspect.signature(module.LSHIndex).parameters["n_probes"].default == 1
            index = module.LSHIndex(n_bits=bits, n_tables=tables, n_probes=probes if counts_own else probes - 1,
                                    seed=0, center=True).add(data)
            contenders[f"before ({commit}) {bits}b x {tables}t x {probes}p"] = index
        for spec in args.after:
            bits, tables, probes, *votes = map(int, spec.split(","))
            index = t.LSHIndex(n_bits=bits, n_tables=tables, n_probes=probes, min_collisions=votes[0] if votes else 1,
                               seed=0, center=True).add(data)
            contenders[f"after {bits}b x {tables}t x {probes}p" + (f" >={votes[0]}" if votes else "")] = index
        timed = queries[:args.single]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", t.ShortResultWarning)
            recalls = {label: t.recall_at_k(index.search(queries, K)[1], truth) for label, index in contenders.items()}
            searches = {label: lambda index=index: [index.search(query, K) for query in timed]
                        for label, index in contenders.items()}
            speeds = compare_speeds({"exact": lambda: [exact.search(query, K) for query in timed], **searches},
                                    threads=1, rounds=args.rounds, per_call=len(timed))
    print(f"N = {args.n:,} x 768 (SYNTHETIC realistic), single queries on one thread, "
          f"{args.rounds} interleaved rounds\n")
    print("| index | recall@10 | ms per query | speed-up vs exact [min-max] |\n|---|---:|---:|---:|")
    print(f"| exact (CosineIndex) | 1.000 | {speeds['exact']['median_s'] * 1e3:.2f} | 1.0x |")
    for label in contenders:
        row = speeds[label]
        print(f"| {label} | {recalls[label]:.3f} | {row['median_s'] * 1e3:.3f} | {row['speedup']:.1f}x "
              f"[{row['speedup_min']:.1f}-{row['speedup_max']:.1f}] |")


if __name__ == "__main__":
    main()
