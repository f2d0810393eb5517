"""What many client threads saw in a load run: counts by kind, and the promises broken."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """``counts``: answers by kind ("page views", "sign-ins allowed", ...); ``violations``: the first
    20 broken promises in words (all of them are counted under "violations")."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def violation(self, text: str) -> None:
        with self.lock:
            self.counts["violations"] += 1
            if len(self.violations) < 20:
                self.violations.append(text)
