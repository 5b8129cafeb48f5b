"""`make bench`: every benchmark, printed as Markdown tables (paste into the README)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) // 1024 // 1024
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {mem} GiB, Python "
          f"{platform.python_version()}, {platform.platform()}\n")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONPATH": str(HERE.parent)}
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"### {script.stem}\n", flush=True)
        subprocess.run([sys.executable, str(script)], cwd=HERE, env=env, check=True)
        print(flush=True)


if __name__ == "__main__":
    main()
