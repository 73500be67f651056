"""What a job did: counts of what it changed (journaled when any is non-zero) and a French summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    """Counts by name (``{"login_link": 3}``) and the line staff read on the jobs page."""

    counts: dict[str, int] = field(default_factory=dict)
    summary: str = ""

    @property
    def changed(self) -> bool:
        return any(self.counts.values())

    def text(self) -> str:
        if self.summary:
            return self.summary
        done = [f"{name} : {count}" for name, count in self.counts.items() if count]
        return ", ".join(done) if done else "rien à faire"
