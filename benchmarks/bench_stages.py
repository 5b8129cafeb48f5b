"""CPU per item per pipeline stage, in one process, on SQLite: this tree against a git ref.

N e-mails are taken in durably, then every
item is run through normalise → classify → link → route → publish → acknowledge
with ``Pipeline.run_stage`` (the same idempotent runner the Dramatiq actors call),
item after item, with the trained classifier. There is no worker and no broker
traffic: the stages' next-stage messages go to Dramatiq's in-memory ``StubBroker``
(``--broker redis`` sends them to a private Redis instead). The acknowledgement's
rate limit talks to a private ``redis-server``, as in production.

Each round runs in a fresh subprocess on fresh state; rounds alternate between
the code of ``--ref`` (checked out with ``git worktree`` into a temporary
directory) and this tree, so machine noise hits both alike. The table gives the
median over rounds of CPU ms per item (``time.process_time``, all threads) per
stage, the ratio this tree / ref, and items per CPU second.

``--texts corpus`` (the default) sends the 300 dev-split citizen messages of
``corpus/dev/`` (median 365 characters, the longest 1 100; never trained on) as
e-mails from as many senders, round after round; ``--texts synthetic`` sends the one
4 KB body of ``bench_smtp.message`` every time (the 2026-12-07 figures), whose
repeated sentences flatter every per-word cache.

    .venv/bin/python benchmarks/bench_stages.py -n 200 --rounds 3 --ref 1d105a7
    .venv/bin/python benchmarks/bench_stages.py -n 200 --profile /tmp/stages.prof
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAGES = ("normalise", "classify", "link", "route", "publish", "acknowledge")


def corpus_mails(n: int) -> list[bytes]:
    """``n`` e-mails carrying the dev split's texts in turn, each citizen their own sender."""
    from email.message import EmailMessage

    # this tree's dev split also when a ref's code runs (run_round passes it on)
    dev = Path(os.environ.get("BENCH_DEV_CORPUS", REPO / "corpus" / "dev"))
    records = [json.loads(line) for path in sorted(dev.rglob("*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for i in range(n):
        rec = records[i % len(records)]
        msg = EmailMessage()
        msg["From"] = f"Invånare {i % len(records)} <invanare{i % len(records)}@example.se>"
        msg["To"] = "kontaktcenter@stockholm.se"
        msg["Subject"] = rec.get("subject") or "Hej"
        msg["Message-ID"] = f"<bench-{i}-{time.time_ns()}@example.se>"
        msg.set_content(rec["text"])
        out.append(msg.as_bytes())
    return out


def child(n: int, broker_kind: str, profile: str | None, texts: str = "corpus") -> None:
    """One round in this process: the code on ``sys.path`` decides which tree runs."""
    sys.path.insert(0, str(HERE))
    from bench_smtp import message
    from common import MODEL_DIR, PrivateRedis, in_memory_broker, kcs_env

    from classifier import Classifier
    from ingest.app import Runtime
    from ingest.config import load_settings
    from ingest.logs import configure
    from ingest.model import Channel, ChannelMeta
    from ingest.pipeline import Pipeline

    configure(level="INFO", process="bench", stream=open(os.devnull, "w"), force=True)  # noqa: SIM115
    tree = Path.cwd()  # run_round starts each round in the tree it measures: its own config
    redis_server = PrivateRedis()
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-stages-"))
    try:
        env = kcs_env(tmp / "var", tree / "config", redis_server.url)
        settings = load_settings({k: v for k, v in env.items() if k.startswith(("KCS_", "REDIS"))})
        rt = Runtime.build(settings)
        clf = Classifier.load_or_train(MODEL_DIR, tree / "config", tree / "corpus")
        if broker_kind == "redis":
            from ingest.broker import make_broker

            broker = make_broker(settings)
        else:
            broker = in_memory_broker()
        pipeline = Pipeline(settings, rt.store, rt.blobs, broker, clf)
        pipeline.register()
        inner = dict.fromkeys(STAGES, 0.0)  # the stage's own work and its commit hook

        def timed(stage: str, fn):  # type: ignore[no-untyped-def]
            def run(*args):  # type: ignore[no-untyped-def]
                t0 = time.process_time()
                try:
                    return fn(*args)
                finally:
                    inner[stage] += time.process_time() - t0
            return run

        pipeline.stages = {s: timed(s, f) for s, f in pipeline.stages.items()}
        pipeline.commit_hooks = {s: timed(s, f) for s, f in pipeline.commit_hooks.items()}
        meta = ChannelMeta(channel=Channel.EMAIL, transport="smtp",
                           envelope_from="anna@example.se",
                           envelope_to=("kontaktcenter@stockholm.se",))
        warm = [rt.intake.accept(message(-1 - i), meta).intake_id for i in range(5)]
        for intake_id in warm:
            for stage in STAGES:
                pipeline.run_stage(stage, intake_id)
        raws = corpus_mails(n) if texts == "corpus" else [message(i) for i in range(n)]
        ids = [rt.intake.accept(raw, meta).intake_id for raw in raws]
        cpu = dict.fromkeys(STAGES, 0.0)
        inner.update(dict.fromkeys(STAGES, 0.0))
        prof = None
        if profile:
            import cProfile

            prof = cProfile.Profile(time.process_time)
            prof.enable()
        wall0 = time.perf_counter()
        for intake_id in ids:
            for stage in STAGES:
                t0 = time.process_time()
                pipeline.run_stage(stage, intake_id)
                cpu[stage] += time.process_time() - t0
        pipeline.sent.flush()
        wall = time.perf_counter() - wall0
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        states = rt.store.count_by_state()
        done = sum(v for (_, s), v in states.items() if s == "done")
        if done != n + len(warm):
            raise SystemExit(f"only {done} of {n + len(warm)} items done: {states}")
        print(json.dumps({"ms": {s: 1000 * v / n for s, v in cpu.items()},
                          "overhead_ms": {s: 1000 * (cpu[s] - inner[s]) / n for s in STAGES},
                          "total_ms": 1000 * sum(cpu.values()) / n, "wall_s": wall}))
    finally:
        redis_server.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run_round(tree: Path, n: int, broker_kind: str, texts: str) -> dict:
    """One round in a fresh interpreter with ``tree`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(tree), "BENCH_DEV_CORPUS": str(REPO / "corpus" / "dev")}
    out = subprocess.run([sys.executable, str(HERE / "bench_stages.py"), "--child", "-n", str(n),
                          "--broker", broker_kind, "--texts", texts], env=env, cwd=tree, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ref", help="git ref to compare against (e.g. the branch point)")
    parser.add_argument("--broker", choices=("stub", "redis"), default="stub")
    parser.add_argument("--texts", choices=("corpus", "synthetic"), default="corpus")
    parser.add_argument("--profile", help="run once in this process under cProfile, dump here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.profile:
        child(args.n, args.broker, args.profile, args.texts)
        return
    trees: dict[str, Path] = {"this tree": REPO}
    worktree = None
    if args.ref:
        worktree = Path(tempfile.mkdtemp(prefix="kcs-bench-ref-")) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree),
                        args.ref], check=True, capture_output=True)
        # the ref's code with this tree's harness and shared model cache
        shutil.copy(HERE / "bench_stages.py", worktree / "benchmarks" / "bench_stages.py")
        (worktree / ".cache").symlink_to(REPO / ".cache")
        trees = {args.ref: worktree, "this tree": REPO}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    try:
        for r in range(args.rounds):
            for name, tree in trees.items():
                res = run_round(tree, args.n, args.broker, args.texts)
                results[name].append(res)
                print(f"round {r + 1} {name}: {res['total_ms']:.1f} ms/item", file=sys.stderr)
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(worktree)], check=False)

    def med(name: str, key: str) -> float:
        rows = results[name]
        return statistics.median(r["ms"][key] if key in STAGES else r[key] for r in rows)

    names = list(trees)
    what = "dev-split texts" if args.texts == "corpus" else "4 KB e-mails"
    print(f"| CPU ms per item, {args.n} {what}, median of {args.rounds} | "
          + " | ".join(names) + (" | ratio |" if len(names) == 2 else " |"))
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for key in (*STAGES, "total_ms"):
        cells = [f"{med(n, key):.2f}" for n in names]
        ratio = [f"{med(names[1], key) / med(names[0], key):.2f}"] if len(names) == 2 else []
        print(f"| {key.removesuffix('_ms')} | " + " | ".join(cells + ratio) + " |")
    for key in STAGES:  # the runner's share: loads, commits, audit, outbox, broker, log
        cells = [f"{statistics.median(r['overhead_ms'][key] for r in results[n]):.2f}"
                 for n in names]
        ratio = ([f"{float(cells[1]) / float(cells[0]):.2f}"] if len(names) == 2 else [])
        print(f"| {key}: runner overhead | " + " | ".join(cells + ratio) + " |")
    overhead = [statistics.median(sum(r["overhead_ms"].values()) for r in results[n])
                for n in names]
    ratio = [f"{overhead[1] / overhead[0]:.2f}"] if len(names) == 2 else []
    print("| runner overhead, all stages | "
          + " | ".join([f"{o:.2f}" for o in overhead] + ratio) + " |")
    cells = [f"{1000 / med(n, 'total_ms'):.1f}" for n in names]
    ratio = [f"{med(names[0], 'total_ms') / med(names[1], 'total_ms'):.2f}"] if len(names) == 2 \
        else []
    print("| items per CPU second | " + " | ".join(cells + ratio) + " |")


if __name__ == "__main__":
    main()
