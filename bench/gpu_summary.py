#!/usr/bin/env python3
"""Tables the JSON lines of bench/gpu-check.sh: end-to-end and kernel times, share of the POPC floor.

    python3 bench/gpu_summary.py bench.jsonl [environment.txt]

The POPC floor of a Hamming scan is the time the GPU's population-count units need for the
pairs alone: pairs x ceil(bits/64) x 2 32-bit POPC, at 16 POPC per clock per SM (Hopper, Ampere)
x SMs x the maximum SM clock, both read from the device string the engine reports. "kernel" is
the device time of the last timed call (CUDA events around the scan; "scan" in
backend_timings_ms), "e2e" the median wall time of the call from Java. Standard library only.
"""
import json
import re
import sys

POPC_PER_CLOCK_PER_SM = 16


def floor_ms(row, sms, mhz):
    if not sms or not mhz:
        return None
    words = (row["bits"] + 63) // 64
    popc = float(row["n"]) * row["queries"] * words * 2
    return popc / (sms * POPC_PER_CLOCK_PER_SM * mhz * 1e6) * 1e3


def fmt(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.{digits}f}"


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            print(f.read().rstrip())
        print()
    if not rows:
        print("no benchmark results")
        return 1
    print(f"{'run':<24} {'backend':<7} {'n':>11} {'bits':>4} {'q':>6} {'k':>6} {'e2e ms':>9} {'kernel ms':>9}"
          f" {'floor ms':>8} {'floor%':>6} {'Gpairs/s':>9} {'verified':>8}")
    for r in rows:
        dev = r.get("device", "")
        m = re.search(r"(\d+) SMs, (\d+) MHz", dev)
        sms, mhz = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        gpu = r.get("backend") == "cuda"
        t = r.get("backend_timings_ms", {})
        kernel = t.get("scan") if gpu else None
        fl = floor_ms(r, sms, mhz) if gpu else None
        share = (fl / kernel * 100) if (fl and kernel) else None
        k = r["k"] if "radius" not in r else f"r{r['radius']}"
        print(f"{r.get('label', ''):<24} {r['backend']:<7} {r['n']:>11,} {r['bits']:>4} {r['queries']:>6} {k:>6}"
              f" {fmt(r['median_ms']):>9} {fmt(kernel):>9} {fmt(fl):>8} {fmt(share, 1):>6}"
              f" {r['gcodes_per_s']:>9.1f} {str(r.get('verified')):>8}")
    hds = [r for r in rows if "hds_median_ms" in r]
    if hds:
        print()
        print(f"{'coarse-to-fine':<24} {'backend':<7} {'m':>6} {'d':>4} {'HDS ms':>9} {'rerank ms':>9} {'GB/s':>7}"
              f" {'BCS ms':>8} {'ES ms':>9} {'ES/HDS':>7}")
        for r in hds:
            t = r.get("hds_backend_timings_ms", {})
            rr = t.get("rerank")
            # the bytes of the pool's features (queries x m x d floats), read once, over the re-rank time
            gbs = (r["queries"] * r["pool"] * r["dim"] * 4 / (rr / 1e3) / 1e9) if rr else None
            print(f"{r.get('label', ''):<24} {r['backend']:<7} {r['pool']:>6} {r['dim']:>4} {fmt(r['hds_median_ms']):>9}"
                  f" {fmt(rr):>9} {fmt(gbs, 1):>7} {fmt(r['median_ms']):>8} {fmt(r['es_median_ms']):>9}"
                  f" {r.get('speedup_es_over_hds', 0):>7.1f}")
    devices = sorted({r.get("device", "") for r in rows})
    print()
    for d in devices:
        print("device: " + d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
