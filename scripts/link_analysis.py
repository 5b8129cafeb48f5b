"""Per-message analysis of linking scenarios: where recall and precision are lost.

For every message: should it join an earlier ärende (an earlier message of its expected
group exists) or start a new one; what the linker decided; and whether its best-scored
candidate was the right ärende, a wrong one, or none at all. Run it on the training
writers' scenarios only (the test split is measured by ``kcs link-eval``, never read):

    .venv/bin/python scripts/link_analysis.py dedupe/scenarios/train/*.jsonl [--show none]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from dedupe.evaluation import load_scenarios, run_file
from ingest.classify import load_classifier
from ingest.config import load_settings
from ingest.logs import configure


def outcomes(path: Path, model: Any) -> list[dict[str, Any]]:
    """One row per message of the file's scenarios."""
    scenarios = {s["id"]: s for s in load_scenarios(path)}
    rows = []
    for result in run_file(path, classifier=model).scenarios:
        scenario = scenarios[result.id]
        group_of = {k: i for i, g in enumerate(result.expected) for k in g}
        seen: list[str] = []
        for m in scenario["messages"]:
            key = m["key"]
            earlier = [k for k in seen if group_of.get(k) == group_of.get(key)]
            right = {result.arende_of[k] for k in earlier}
            cands = result.candidates.get(key, [])
            best = cands[0] if cands else None
            if best is None:
                found = "none"
            elif best["arende_id"] in right:
                found = "right"
            else:
                found = "wrong"
            right_rank = next((i for i, c in enumerate(cands) if c["arende_id"] in right), None)
            rows.append({"scenario": result.id, "key": key, "channel": m.get("channel"),
                         "should": "join" if earlier else "new",
                         "decision": result.decisions[key], "best": found,
                         "score": best["score"] if best else None,
                         "right_rank": right_rank, "right_ids": sorted(right),
                         "all_candidates": cands,
                         "signals": [f"{e['signal']} {e['points']:+g}"
                                     for e in result.explanations.get(key, [])],
                         "note": scenario.get("note", ""), "message": m,
                         "earlier": [mm for mm in scenario["messages"] if mm["key"] in earlier]})
            seen.append(key)
    return rows


def main() -> None:
    """Print the outcome table, and the messages of one outcome with --show."""
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--show", choices=["none", "review", "wrong", "badlink", "lowright"])
    parser.add_argument("--json", type=Path, help="write all rows here")
    args = parser.parse_args()
    configure("WARNING")
    model = load_classifier(load_settings())
    rows = [r for f in args.files for r in outcomes(f, model)]
    table = Counter((r["should"], r["decision"] if r["decision"] in ("link", "new", "review",
                                                                      "duplicate") else "other",
                     r["best"]) for r in rows)
    for (should, decision, best), n in sorted(table.items()):
        print(f"{should:5} {decision:9} best={best:6} {n}")
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    pick = {"none": lambda r: r["should"] == "join" and r["best"] == "none",
            "review": lambda r: r["decision"] == "review",
            "wrong": lambda r: r["should"] == "join" and r["best"] == "wrong",
            "badlink": lambda r: (r["decision"] == "link" and r["best"] == "wrong")
            or (r["should"] == "new" and r["decision"] == "link"),
            "lowright": lambda r: r["should"] == "join" and r["best"] == "right"
            and r["decision"] not in ("link", "duplicate")}
    if args.show:
        for r in filter(pick[args.show], rows):
            m = r["message"]
            print(f"\n=== {r['scenario']}/{r['key']} ({r['note']}) decision={r['decision']} "
                  f"score={r['score']} rank={r['right_rank']}")
            print("   signals:", "; ".join(r["signals"]))
            for e in r["earlier"]:
                print(f"   earlier {e['key']} {e['channel']} email={e.get('from_email')} "
                      f"phone={e.get('from_phone')} name={e.get('from_name')} "
                      f"addr={e.get('postal_address')}")
                print("     |", (e.get("subject") or "") + " // "
                      + e["text"][:300].replace("\n", " / "))
            print(f"   THIS {m['channel']} email={m.get('from_email')} "
                  f"phone={m.get('from_phone')} name={m.get('from_name')} "
                  f"addr={m.get('postal_address')}")
            print("     |", (m.get("subject") or "") + " // "
                  + m["text"][:400].replace("\n", " / "))


if __name__ == "__main__":
    main()
