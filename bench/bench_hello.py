"""Self-check of the harness: hello-world against itself, so the ratio shows its noise.

Run: .venv/bin/python bench/bench_hello.py [--seconds 10 --rounds 3]
Writes bench/results/hello_selfcheck.json. A ratio far from 1.0 means the machine was too
noisy for the other benchmarks' ratios to be read more finely than that.
"""

from __future__ import annotations

import argparse

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    def measure(url: str):
        return lambda: harness.measure_rps(
            url + "/", seconds=args.seconds, connections=args.connections
        )

    with (
        harness.serve(harness.HELLO, workers=args.workers) as target,
        harness.serve(harness.HELLO, workers=args.workers) as baseline,
    ):
        result = harness.interleaved(
            [("target", measure(target)), ("baseline", measure(baseline))], rounds=args.rounds
        )
    result["setup"] = {
        "target": f"{harness.HELLO} (bench/hello.py), gunicorn sync, {args.workers} workers",
        "baseline": f"{harness.HELLO} (bench/hello.py), gunicorn sync, {args.workers} workers",
        "seconds": args.seconds,
        "connections": args.connections,
        "note": "same app on both sides: the ratio's distance from 1.0 is the harness's noise",
    }
    harness.write_result("hello_selfcheck", result)


if __name__ == "__main__":
    main()
