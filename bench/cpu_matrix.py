#!/usr/bin/env python3
"""Tables the JSON lines of bench/cpu-matrix.sh (standard library only).

    python3 bench/cpu_matrix.py bench/results/cpu-matrix-*.jsonl

Bounds of the 64-bit scan, in codes per cycle per core (the clock is dh_bench's busy clock):
  - instruction bound: AVX-512: VPOPCNTQs per cycle x 8 lanes; AVX2: the nibble lookup's VPSHUFBs
    per cycle x 2 (16 lookups of 32 rows per 32 codes); both issue rates measured by dh_bench
    bounds (a core that splits 512-bit operations in two, as Zen 4 does, runs 1 VPOPCNTQ per cycle:
    8 codes, not the 16 that two units would suggest). Without dh_bench: 16 and 4, nominal.
  - instruction mix: what the scan's own instructions sustain from registers and L1 with no
    selection at all (dh_bench bounds): the ceiling of the kernel as designed.
  - FMA peak: the FMA flops per cycle per core dh_bench bounds measures at the engine's vector
    width (Zen 4: 32 at 256 and at 512 bits), times the clock and the threads; without dh_bench,
    2 FMA units x 16 floats (AVX-512) or 8 (AVX2) x 2 flops.
"""
import json
import sys

TARGETS = {
    "64 bits, 1000 queries, k=10": ">= 6x",
    "128 bits": ">= 4x (java >= 1.5x)",
    "256 bits": ">= 4x (java >= 1.5x)",
    "1 query, 64 bits": "<= 0.15 ms",
    "10,000 queries, k=100": ">= 4x",
    "1000 queries, k=1000": ">= 3x; k=1000 <= 1.5x k=10",
}
# Below this share of the wall time on a core (engine-cli bench's busy_median) a cell is marked.
BUSY = 0.8
ENGINE_NAMES = {"native": "native", "native-avx2": "native (AVX2 cap)", "java": "java"}


def fmt_ms(x):
    if x is None:
        return "-"
    return "%.0f" % x if x >= 100 else ("%.1f" % x if x >= 1 else "%.3f" % x)


def main(path):
    rows = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    machine = {}
    for r in rows:
        if r.get("machine"):
            machine.update(r)
    faiss = next((r for r in rows if r.get("faiss")), None)
    engines = []
    for r in rows:
        e = r.get("engine")
        if e and e != "faiss" and e not in engines:
            engines.append(e)
    cases = []
    for r in rows:
        c = r.get("case")
        if c and c != "main job" and c not in cases:
            cases.append(c)

    def cell(case, engine):
        return next((r for r in rows if r.get("case") == case and r.get("engine") == engine), None)

    waited = False
    clock = machine.get("clock_ghz")
    threads = machine.get("threads", 2)
    avx512 = "avx512_vpopcntdq" in machine.get("flags", "")
    print("Machine: %s, %s cores, flags: %s; busy clock %s GHz; %s threads; load average %s before, %s after." % (
        machine.get("cpu", "?"), machine.get("cores", "?"), machine.get("flags", "?"),
        "%.2f" % clock if clock else "?", threads, machine.get("load_before", "?"), machine.get("load_after", "?")))
    if faiss:
        generic = "GENERIC" in faiss.get("compile", "")
        print("FAISS %s IndexBinaryFlat (%s)%s." % (
            faiss["version"], faiss.get("compile", "").strip() or "compile options unknown",
            ": Debian's GENERIC build, a software popcount, so ratios against it flatter the engine several"
            " times (bench/setup-faiss.sh builds the same release for AVX2); not a headline" if generic
            else ", built from source for AVX2 by bench/setup-faiss.sh (hardware POPCNT)"))
    print()
    fl = "FAISS ms" if not faiss else "FAISS %s ms" % faiss["version"]
    head = "| case |"
    sep = "|---|"
    for e in engines:
        head += " %s ms |" % ENGINE_NAMES.get(e, e)
        sep += "---:|"
        if faiss:
            head += " vs FAISS |"
            sep += "---:|"
    head += " %s | target |" % fl
    sep += "---:|---|"
    print(head)
    print(sep)
    again = []  # (cell name, the other attempts' medians) of cells measured more than once

    def marks(r, name):
        nonlocal waited
        m = ""
        if r is not None and r.get("busy_median", 1) < BUSY:
            m += " *"
            waited = True
        if r is not None and r.get("attempts", 1) > 1:
            m += " †"
            again.append((name, r.get("other_medians_ms", [])))
        return m

    for c in cases:
        f = cell(c, "faiss")
        line = "| %s |" % c
        for e in engines:
            r = cell(c, e)
            ms = r and r["median_ms"]
            mark = "" if r is None or r.get("verified") else " (NOT verified)"
            mark += marks(r, "%s, %s" % (ENGINE_NAMES.get(e, e), c))
            line += " %s%s |" % (fmt_ms(ms), mark)
            if faiss:
                line += " %s |" % ("%.1fx" % (f["median_ms"] / ms) if f and ms else "-")
        fmark = marks(f, "FAISS, %s" % c)
        line += " %s%s | %s |" % (fmt_ms(f and f["median_ms"]), fmark, TARGETS.get(c, ""))
        print(line)
    if waited:
        print()
        print("\\* The search threads ran for under %.0f%% of the wall time (median of the runs, `busy_median`):"
              " they waited for each other (one query's hand-offs) or for a core (a shared VM), so the time"
              " overstates the work." % (100 * BUSY))
    if again:
        print()
        print("† Measured again once the load had settled, an attempt's threads having run for under %.0f%% of"
              " the wall time; the table shows the attempt busiest on its cores. The other attempts' medians: %s."
              % (100 * BUSY, "; ".join("%s %s ms" % (n, ", ".join(fmt_ms(x) for x in o)) for n, o in again)))
    print()
    # k = 1000 against k = 10, and the scan against the instruction-set bound
    print("| engine | k=1000 / k=10 (target <= 1.5) | 64-bit scan, Gcodes/s | codes per cycle per core |"
          " instruction bound | of it | instruction-mix bound | of it |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for e in engines:
        k10 = cell("64 bits, 1000 queries, k=10", e)
        k1000 = cell("1000 queries, k=1000", e)
        ratio = "%.2f" % (k1000["median_ms"] / k10["median_ms"]) if k10 and k1000 else "-"
        if k10:
            g = k10["gcodes_per_s"]
            per = g / threads / clock if clock else None
            wide = avx512 and e != "native-avx2"
            measured = machine.get("vpopcntq_codes_per_cycle" if wide else "vpshufb_codes_per_cycle")
            nominal = measured or (16.0 if wide else 4.0)
            mix = machine.get("avx512_mix_codes_per_cycle" if wide else "avx2_mix_codes_per_cycle")
            print("| %s | %s | %.1f | %s | %.1f (%s) | %s | %s | %s |" % (
                ENGINE_NAMES.get(e, e), ratio, g, "%.2f" % per if per else "-", nominal,
                "VPOPCNTQ" if wide else "AVX2 nibble lookup", "%.0f%%" % (100 * per / nominal) if per else "-",
                "%.2f" % mix if mix else "-", "%.0f%%" % (100 * per / mix) if per and mix else "-"))
    print()
    main = [cell("main job", e) for e in engines]
    main = [r for r in main if r and "hds_median_ms" in r]
    es_q = main[0].get("es_queries") if main else None
    es_how = ("on %s queries, scaled to %s" % (es_q, main[0]["queries"])
              if es_q and es_q != main[0]["queries"] else "on every query")
    print("Main job (`engine-cli bench --n %s`: BCS top-10; HDS: Hamming pool m=1000 re-ranked on 128-d features;"
          " ES: exhaustive Euclidean %s):" % ("{:,}".format(machine.get("n", 0)), es_how))
    print()
    print("| engine | BCS ms | HDS ms | HDS / BCS (target <= 3) | ES ms | ES GFLOP/s | of FMA peak (target >= 50%) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for e in engines:
        r = cell("main job", e)
        if not r or "hds_median_ms" not in r:
            continue
        flops = 2.0 * r["n"] * r["queries"] * r["dim"]
        gf = flops / (r["es_median_ms"] / 1e3) / 1e9
        wide = "avx512f" in machine.get("flags", "") and e != "native-avx2"
        per_cycle = machine.get("fma_flops_per_cycle_avx512" if wide else "fma_flops_per_cycle_avx2") \
            or 2 * (16 if wide else 8) * 2
        peak = threads * clock * per_cycle if clock else None
        print("| %s | %s | %s | %.1f | %s | %.0f | %s |" % (
            ENGINE_NAMES.get(e, e), fmt_ms(r["median_ms"]), fmt_ms(r["hds_median_ms"]),
            r["hds_median_ms"] / r["median_ms"], fmt_ms(r["es_median_ms"]), gf,
            "%.0f%% of %.0f" % (100 * gf / peak, peak) if peak else "-"))
    redone = [(e, cell("main job", e)) for e in engines]
    redone = [(e, r) for e, r in redone if r and r.get("attempts", 1) > 1]
    if redone:
        print()
        print("Measured again once the load had settled (an attempt's threads ran for under %.0f%% of the wall"
              " time; the attempt busiest on its cores is shown): %s." % (100 * BUSY, "; ".join(
                  "%s, its other attempts' BCS %s ms" % (ENGINE_NAMES.get(e, e), ", ".join(
                      fmt_ms(x) for x in r.get("other_medians_ms", []))) for e, r in redone)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
