"""The judge's anchor: scipy.stats.mannwhitneyu on the same samples the Rust judge ranks.

    python scipy_mwu.py write <file> [n]     two lines of n latency-like samples (with ties)
    python scipy_mwu.py time <file> [rounds] scipy's U, p and median milliseconds, as JSON

The samples are latencies in milliseconds rounded to 0.1 ms (so there are ties, as real
histogram-derived samples have), the second set shifted by 2 %: a realistic canary-vs-stable
comparison that takes the asymptotic path with the tie correction in both implementations.
Numbers are written with repr(), which round-trips exactly into Rust's f64 parser.
"""

import json
import statistics
import sys
import time

import numpy as np
from scipy.stats import mannwhitneyu


def write(path: str, n: int) -> None:
    rng = np.random.default_rng(20261130)
    x = np.round(rng.lognormal(mean=3.0, sigma=0.4, size=n), 1)
    y = np.round(rng.lognormal(mean=3.0, sigma=0.4, size=n) * 1.02, 1)
    with open(path, "w") as f:
        f.write(" ".join(repr(float(v)) for v in x) + "\n")
        f.write(" ".join(repr(float(v)) for v in y) + "\n")


def timed(path: str, rounds: int) -> None:
    with open(path) as f:
        x = np.array([float(v) for v in f.readline().split()])
        y = np.array([float(v) for v in f.readline().split()])
    r = mannwhitneyu(x, y)  # scipy's defaults: two-sided, continuity, method auto
    mwu_ms = []
    for _ in range(rounds):
        t = time.perf_counter()
        mannwhitneyu(x, y)
        mwu_ms.append((time.perf_counter() - t) * 1e3)
    import scipy

    print(json.dumps({"n1": len(x), "n2": len(y), "u": float(r.statistic), "p_value": float(r.pvalue),
                      "ms": statistics.median(mwu_ms), "scipy": scipy.__version__}))


def main() -> None:
    cmd, path = sys.argv[1], sys.argv[2]
    arg = int(sys.argv[3]) if len(sys.argv) > 3 else None
    if cmd == "write":
        write(path, min(arg or 10000, 1_000_000))
    elif cmd == "time":
        timed(path, max(1, min(arg or 20, 1000)))
    else:
        sys.exit("usage: scipy_mwu.py write|time <file> [n|rounds]")


if __name__ == "__main__":
    main()
