#!/usr/bin/env python3
"""SVG plots of a `bench/engine.py` result, with no plotting library:

  bench/plot.py RESULT.json OUTDIR

writes OUTDIR/engine-run-rm.svg (every sample of `run --rm` per engine, as
dots, with the median and p90 marked) and OUTDIR/engine-memory.svg (what each
running container adds, PSS and RSS, and the engine's idle PSS, per engine).
"""

import json
import os
import sys

W, ROW, LEFT, TOP = 760, 44, 190, 40
COLORS = ["#1f6feb", "#8250df", "#cf222e", "#bf8700", "#1a7f37"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg(width, height, body):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def axis(body, x0, x1, y, vmax, unit, ticks=5):
    body.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#888"/>')
    for i in range(ticks + 1):
        v = vmax * i / ticks
        x = x0 + (x1 - x0) * i / ticks
        body.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#888"/>')
        body.append(f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle" fill="#444">{v:.0f}{unit}</text>')


def latency(res):
    series = [(k.split(": ", 1)[1], v) for k, v in res["series"].items() if k.startswith("run --rm: ")]
    vmax = max(max(v["samples"]) for _, v in series) * 1.05
    x0, x1 = LEFT, W - 30
    h = TOP + ROW * len(series) + 50
    body = [f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">'
            f'run --rm busybox true: every sample (ms), median | and p90 ¦ — {esc(res["machine"]["date"])}</text>']
    for i, (name, v) in enumerate(series):
        y = TOP + ROW * i + ROW / 2
        c = COLORS[i % len(COLORS)]
        body.append(f'<text x="{LEFT - 10}" y="{y + 4}" text-anchor="end">{esc(name)}</text>')
        for j, s in enumerate(v["samples"]):
            jitter = ((j * 7919) % 17 - 8) * 0.9
            body.append(f'<circle cx="{x0 + (x1 - x0) * s / vmax:.1f}" cy="{y + jitter:.1f}" r="2.5" '
                        f'fill="{c}" fill-opacity="0.55"/>')
        for key, dash in (("median", ""), ("p90", ' stroke-dasharray="3,2"')):
            x = x0 + (x1 - x0) * v[key] / vmax
            body.append(f'<line x1="{x:.1f}" y1="{y - 14}" x2="{x:.1f}" y2="{y + 14}" stroke="{c}" stroke-width="2"{dash}/>')
        body.append(f'<text x="{x0 + (x1 - x0) * v["p90"] / vmax + 6:.1f}" y="{y - 6}" fill="{c}">'
                    f'{v["median"]:.0f} ms</text>')
    axis(body, x0, x1, TOP + ROW * len(series) + 10, vmax, "")
    return svg(W, h, body)


def memory(res):
    mem = res.get("memory", {})
    rows = []
    for name, m in mem.items():
        rows.append((name, "per container, PSS", m["per_container_pss_kib"] / 1024))
        rows.append((name, "per container, RSS", m["per_container_rss_kib"] / 1024))
        rows.append((name, "engine idle, PSS", m["idle_pss_kib"] / 1024))
    vmax = max((r[2] for r in rows), default=1) * 1.1
    x0, x1 = LEFT + 120, W - 60
    rh = 20
    h = TOP + rh * len(rows) + 60
    body = [f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">Memory (MiB): what each running '
            f'container adds, and the idle engine</text>']
    names = list(mem)
    for i, (name, what, v) in enumerate(rows):
        y = TOP + rh * i
        c = COLORS[names.index(name) % len(COLORS)]
        if i % 3 == 0:
            body.append(f'<text x="{LEFT - 10}" y="{y + 14}" text-anchor="end" font-weight="bold">{esc(name)}</text>')
        body.append(f'<text x="{x0 - 8}" y="{y + 14}" text-anchor="end" fill="#444">{what}</text>')
        width = max((x1 - x0) * v / vmax, 1)
        opacity = {"per container, PSS": 1.0, "per container, RSS": 0.45, "engine idle, PSS": 0.25}[what]
        body.append(f'<rect x="{x0}" y="{y + 3}" width="{width:.1f}" height="{rh - 6}" fill="{c}" fill-opacity="{opacity}"/>')
        body.append(f'<text x="{x0 + width + 5:.1f}" y="{y + 14}">{v:.2f}</text>')
    axis(body, x0, x1, TOP + rh * len(rows) + 8, vmax, "")
    return svg(W, h, body)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    res = json.load(open(sys.argv[1]))
    os.makedirs(sys.argv[2], exist_ok=True)
    for name, draw in (("engine-run-rm.svg", latency), ("engine-memory.svg", memory)):
        path = os.path.join(sys.argv[2], name)
        with open(path, "w") as f:
            f.write(draw(res))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
