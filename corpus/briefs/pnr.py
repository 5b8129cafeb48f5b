#!/usr/bin/env python3
"""Fictitious but checksum-valid Swedish personnummer for test data.

usage: python3 pnr.py [N] [--born 1938]   -> N lines like 380412-1234 and 19380412-1234
"""
import random
import sys


def luhn_digit(nine: str) -> int:
    s = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        s += d - 9 if d > 9 else d
    return (10 - s % 10) % 10


def make(year: int, rng: random.Random) -> tuple[str, str]:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    serial = rng.randint(0, 999)
    nine = f"{year % 100:02d}{month:02d}{day:02d}{serial:03d}"
    ten = nine + str(luhn_digit(nine))
    sep = "+" if year < 1927 else "-"
    return f"{ten[:6]}{sep}{ten[6:]}", f"{year}{ten[2:6]}-{ten[6:]}"


if __name__ == "__main__":
    args = sys.argv[1:]
    born = None
    if "--born" in args:
        i = args.index("--born")
        born = int(args[i + 1])
        del args[i:i + 2]
    n = int(args[0]) if args else 5
    rng = random.Random()
    for _ in range(n):
        y = born or rng.randint(1930, 2020)
        print(*make(y, rng))
