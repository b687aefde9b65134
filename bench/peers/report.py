"""The peers table in Markdown (pure: results in, text out), with olapsink's ratio to each peer."""

from __future__ import annotations

from typing import Any

PEER_OF = {"olapsink-doris": "doris", "olapsink-starrocks": "starrocks"}
COLUMNS = (
    ("records/s", "records_per_s", "{:,.0f}"),
    ("MB/s", "mb_per_s", "{:.2f}"),
    ("CPU s / M rec", "cpu_s_per_million", "{:.1f}"),
    ("peak RSS MiB", "peak_rss_mb", "{:.0f}"),
    ("last rec to visible s", "visible_latency_s", "{:.2f}"),
)


def _ratio(ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    if peer is None or not peer["records_per_s"]:
        return "n/a"
    speed = ours["records_per_s"] / peer["records_per_s"]
    cpu = peer["cpu_s_per_million"] / ours["cpu_s_per_million"] if ours["cpu_s_per_million"] else 0.0
    return f"{speed:.1f}x rec/s, {cpu:.1f}x less CPU"


def render_markdown(doc: dict[str, Any]) -> str:
    results = doc["results"]
    index = {(r["system"], r["case"], r["parallel"]): r for r in results}
    head = ["case", "system", "tasks/procs", *(c[0] for c in COLUMNS), "olapsink vs peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(results, key=lambda r: (r["case"], r["system"], r["parallel"])):
        case = r["case"] + (" (stored)" if r.get("sink") == "mariadb" else "")
        cells = [case, r["system"], str(r["parallel"])]
        cells += [fmt.format(r[key]) for _, key, fmt in COLUMNS]
        peer = PEER_OF.get(r["system"])
        cells.append(_ratio(r, index.get((peer, r["case"], r["parallel"]))) if peer else "")
        lines.append("| " + " | ".join(cells) + " |")
    for failure in doc.get("failures", []):
        lines.append(f"\nFailed: {failure}")
    return "\n".join(lines) + "\n"
