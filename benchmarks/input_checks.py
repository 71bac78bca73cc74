"""What the checks on untrusted input cost a submission (issue 10).

Every API submission now goes through survey_engine.untrusted: the JSON depth is
measured on the raw text before parsing, and every string is scanned for lone
surrogates and non-characters. This prints, side by side in one run, plain
`json.loads` (the baseline) against `load_json` + `first_bad_text` (our path), in
microseconds per body, for a typical demo submission and for one with a
120,000-character comment (157 KB of UTF-8, within the 256 KiB limit); then regex()
on a catastrophic pattern with Python's `re` (the old evaluator) against google-re2
(the new one).

    .venv/bin/python benchmarks/input_checks.py
"""

from __future__ import annotations

import json
import platform
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey_engine.untrusted import first_bad_text, load_json  # noqa: E402


def per_call_us(function, argument, seconds: float = 1.0) -> float:
    """Mean microseconds per call over about `seconds` (best of three rounds)."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            break
        calls *= 4
    best = elapsed
    for _ in range(2):
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def checked(text: str):
    data = load_json(text)
    first_bad_text(data)
    return data


def bodies() -> dict[str, str]:
    rng = random.Random(7)
    demo = {
        "submission_id": "0b0c9e5e-3d52-4c33-9a0a-6f6f1b0a2f11",
        "answers": {
            "consent": "OK",
            "district": "da_lat",
            "commune": "dl_p1",
            "role": "parent",
            "children": "2",
            "support": "yes",
            "concerns": ["infection", "transport"],
            "follow_up": "yes",
            "phone": "0912 345 678",
            "comment": "Cần đảm bảo an toàn cho các cháu khi trở lại trường.",
        },
    }
    words = ["trường", "học", "sinh", "an", "toàn", "Đà", "Lạt", "phụ", "huynh", "\"x\""]
    long_comment = " ".join(rng.choice(words) for _ in range(40_000))[:120_000]
    large = {**demo, "answers": {**demo["answers"], "comment": long_comment}}
    return {
        "demo submission": json.dumps(demo, ensure_ascii=False),
        "120,000-char comment": json.dumps(large, ensure_ascii=False),
    }


def main() -> None:
    print(
        f"# {platform.node()} · {platform.processor() or platform.machine()} · "
        f"Python {platform.python_version()} · {time.strftime('%Y-%m-%d')}"
    )
    print(f"{'body':<22} {'bytes':>8} {'json.loads µs':>14} {'checked µs':>11} {'ratio':>6}")
    for name, text in bodies().items():
        base = per_call_us(json.loads, text)
        ours = per_call_us(checked, text)
        print(f"{name:<22} {len(text.encode()):>8} {base:>14.1f} {ours:>11.1f} {ours / base:>6.2f}")

    try:
        import re2
    except ImportError:
        print("google-re2 not installed: regex comparison skipped")
        return
    print(f"\n{'regex(., ^(a+)+$) on':<24} {'re (old) ms':>12} {'re2 (new) ms':>13}")
    for length in (18, 20, 22, 24):
        answer = "a" * length + "!"
        start = time.perf_counter()
        re.search("^(a+)+$", answer)
        old = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        re2.search("^(a+)+$", answer)
        new = (time.perf_counter() - start) * 1000
        print(f"{length + 1:>3} characters{'':<11} {old:>12.1f} {new:>13.3f}")


if __name__ == "__main__":
    main()
