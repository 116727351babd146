#!/usr/bin/env python3
"""Writes an engine run (bench/engine.sh's JSON) into docs/PERFORMANCE.md,
between the markers `<!-- engine-run:begin -->` and `<!-- engine-run:end -->`:
the machine, the versions, every series with each engine's median (p90) and
its ratio to berthd's, memory, TCP, attach and pull/push throughput.

usage: bench/report.py RESULT.json [docs/PERFORMANCE.md] [--command "bench/engine.sh -q"]
"""

import json
import os
import sys

BEGIN, END = "<!-- engine-run:begin -->", "<!-- engine-run:end -->"
BASE = "berthd (docker CLI)"


def render(res, command):
    m = res["machine"]
    lines = [
        f"`{command}`, {m['date']}, Linux {m['kernel']}, {m['cpus']} CPUs, cgroup {m.get('cgroup', '?')}, "
        + ", ".join(m[k] for k in ("runc", "crun", "containerd") if m.get(k)) + "; "
        + ", ".join(f"{k} {v}" for k, v in res["versions"].items())
        + ". Medians in ms (p90); `×` is the engine's median over berthd's with the docker CLI.",
        "",
    ]
    engines, rows = [], {}
    for key, v in res["series"].items():
        what, eng = key.split(": ", 1)
        if eng not in engines:
            engines.append(eng)
        rows.setdefault(what, {})[eng] = v
    lines.append("| series | " + " | ".join(engines) + " |")
    lines.append("| --- |" + " --- |" * len(engines))
    for what, per in rows.items():
        ref = per.get(BASE, {}).get("median")
        cells = []
        for e in engines:
            v = per.get(e)
            if not v:
                cells.append("")
                continue
            ratio = f" ×{v['median'] / ref:.2f}" if ref and e != BASE else ""
            cells.append(f"{v['median']:.0f} ({v['p90']:.0f}){ratio}")
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    if res.get("memory"):
        lines += ["", "| memory, KiB | idle RSS | idle PSS | each running container adds, PSS (RSS) |",
                  "| --- | --- | --- | --- |"]
        for e, mm in res["memory"].items():
            lines.append(f"| {e} | {mm['idle_rss_kib']} | {mm['idle_pss_kib']} | "
                         f"{mm['per_container_pss_kib']:.0f} ({mm['per_container_rss_kib']:.0f}) |")
    for key, title in (("tcp", "MiB over TCP into `nc` in a container, MB/s"),
                       ("attach", "MiB through `run -i --rm busybox cat`, MB/s"),
                       ("pull", "MiB image pulled cold and pushed to an empty registry, MB/s of its layers")):
        if key not in res:
            continue
        size = res[key].get("mib") or res[key].get("image_mib")
        lines += ["", f"{size:.0f} {title}:", "", "| what | MB/s |", "| --- | --- |"]
        for k, v in res[key]["mb_per_s"].items():
            lines.append(f"| {k} | {v:.0f} |")
    return "\n".join(lines)


def main():
    args = sys.argv[1:]
    command = "bench/engine.sh"
    if "--command" in args:
        i = args.index("--command")
        command = args[i + 1]
        del args[i:i + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    res = json.load(open(args[0]))
    doc = args[1] if len(args) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "PERFORMANCE.md")
    text = open(doc).read()
    block = f"{BEGIN}\n{render(res, command)}\n{END}"
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n## Engines side by side, the latest run\n\n" + block + "\n"
    open(doc, "w").write(text)
    print(f"wrote {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
