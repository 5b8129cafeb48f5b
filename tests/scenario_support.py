"""Linking scenarios in tests: one message of a scenario, and replaying one scenario."""

from __future__ import annotations

from typing import Any

from dedupe.evaluation import Replayer, ScenarioResult


def scenario_message(key: str, channel: str, minutes: float, text: str,
                     **kw: object) -> dict[str, object]:
    """A message in the ``kcs link-eval`` scenario format."""
    return {"key": key, "channel": channel, "minutes_after_start": minutes, "text": text,
            "subject": kw.pop("subject", ""), **kw}


def replay(settings: Any, classifier: Any, scenario: dict[str, Any]) -> ScenarioResult:
    """One scenario through intake and the pipeline on a throwaway store."""
    replayer = Replayer(settings, classifier)
    try:
        return replayer.run_one(scenario, 0)
    finally:
        replayer.close()
