#!/usr/bin/env python3
"""Draws how DELF's IVF-PQ path and the hash-coarse path scale with the database.

usage: scaling_chart.py OUT.png RESULTS.json [RESULTS.json ...]

Each RESULTS.json is the line `engine-cli delf eval --json` prints (one per database size). The
chart has two panels against the number of database images (log scale): the median ms per query of
the rows delf_ransac and hash_ransac with their search stages (IVF-PQ ANN; Hamming scan + pooled
scan), and the mAP of both. It is written as SVG and rendered to PNG by headless Chromium (the
only renderer on the machines this runs on); the SVG is kept next to the PNG.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

W, H = 980, 430
PANEL_W, PANEL_H = 380, 300
LEFT, TOP = 80, 60
GAP = 110
BLUE, RED, GREY = "#1f77b4", "#d62728", "#555"


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            d = json.loads([line for line in f if line.strip()][-1])
        rows.append(d)
    rows.sort(key=lambda d: d["database"])
    return rows


def xpos(x0, n, lo, hi):
    return x0 + (math.log10(n) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * PANEL_W


def ypos(v, lo, hi):
    return TOP + PANEL_H - (v - lo) / (hi - lo) * PANEL_H


def panel(out, x0, rows, title, series, lo, hi, ticks, fmt):
    sizes = [d["database"] for d in rows]
    xlo, xhi = min(sizes) / 1.3, max(sizes) * 1.3
    out.append(f'<text x="{x0}" y="{TOP - 22}" font-size="15" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="black"/>')
    for t in ticks:
        y = ypos(t, lo, hi)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{x0 - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{fmt(t)}</text>')
    for n in sizes:
        x = xpos(x0, n, xlo, xhi)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + PANEL_H}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + PANEL_H + 18}" font-size="12" text-anchor="middle">{n:,}</text>')
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 40}" font-size="13" '
               f'text-anchor="middle">database images (log scale)</text>')
    for i, (label, colour, dash, values) in enumerate(series):
        pts = [(xpos(x0, n, xlo, xhi), ypos(v, lo, hi)) for n, v in zip(sizes, values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.4" '
                   f'stroke-dasharray="{dash}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        ly = TOP + 16 + 18 * i
        out.append(f'<line x1="{x0 + 10}" y1="{ly - 4}" x2="{x0 + 34}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2.4" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{x0 + 40}" y="{ly}" font-size="12">{label}</text>')


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    png, rows = sys.argv[1], load(sys.argv[2:])
    for d in rows:
        for k in ("delf_ransac", "hash_ransac"):
            if k not in d:
                sys.exit(f"{k} missing from the results of {d['database']} images: run delf eval with the hash rows")
    ms_d = [d["delf_ransac"]["query_ms"] for d in rows]
    ms_h = [d["hash_ransac"]["query_ms"] for d in rows]
    ann = [d["delf_ransac"]["stages_ms"]["ann"] for d in rows]
    scan = [d["hash_ransac"]["stages_ms"].get("hamming", 0) + d["hash_ransac"]["stages_ms"].get("global", 0)
            for d in rows]
    top = max(ms_d + ms_h) * 1.15
    step = 200 if top > 800 else 100
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    panel(out, LEFT, rows, "ms per query (median)", [
        ("DELF: IVF-PQ + RANSAC, whole query", RED, "", ms_d),
        ("hash-coarse + RANSAC, whole query", BLUE, "", ms_h),
        ("IVF-PQ ANN stage", RED, "6,4", ann),
        ("Hamming + pooled scan stage", BLUE, "6,4", scan)],
        0, top, list(range(0, int(top) + 1, step)), lambda t: f"{t:.0f}")
    maps = [d["delf_ransac"]["map"] for d in rows] + [d["hash_ransac"]["map"] for d in rows]
    lo = math.floor(min(maps) * 50 - 1) / 50
    panel(out, LEFT + PANEL_W + GAP, rows, "mAP", [
        ("DELF: IVF-PQ + RANSAC", RED, "", [d["delf_ransac"]["map"] for d in rows]),
        ("hash-coarse + RANSAC", BLUE, "", [d["hash_ransac"]["map"] for d in rows])],
        lo, 1.0, [round(lo + 0.02 * i, 2) for i in range(int(round((1.0 - lo) / 0.02)) + 1)],
        lambda t: f"{t:.2f}")
    out.append("</svg>")
    svg = os.path.splitext(png)[0] + ".svg"
    with open(svg, "w") as f:
        f.write("\n".join(out))
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                        f"--window-size={W},{H}", f"--screenshot={os.path.abspath(png)}",
                        "file://" + os.path.abspath(svg)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    print(f"wrote {png} and {svg}")


if __name__ == "__main__":
    main()
