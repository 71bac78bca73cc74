"""What happens to a submission over a circuit breaker's limit (intake/breakers.py).

    not over, or a valid proof of work sent with it ──► PASS
    over, from the API ─────────────────────────────► REFUSE    429 + Retry-After
    over, from the page with its script running ────► CHALLENGE 429 + a challenge
    over, from a page without script ───────────────► FLAG      stored, flagged over_limit

A citizen without JavaScript is never turned away: staff see the flag and decide.
Each is counted for /metrics (names in COUNTERS) in the survey's counters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app

from survey_engine.intake import breakers, counters, proof_of_work
from survey_engine.intake.breakers import Limits, Verdict
from survey_engine.intake.proof_of_work import Check

# Counter names, in the survey's counters hash (intake/counters.py) beside the outcomes.
LIMITED = tuple(f"limited_{scope}" for scope in breakers.SCOPES)
CHALLENGES = ("challenges_issued", "challenges_solved", "challenges_refused")
OVER_LIMIT_STORED = "over_limit_stored"
COUNTERS = (*LIMITED, *CHALLENGES, OVER_LIMIT_STORED)

OVER_LIMIT_REASONS = {
    "survey": "more than {limit} answers to this survey a minute",
    "network": "more than {limit} answers a minute from this network",
    "device": "more than {limit} answers in 10 minutes from this browser",
}


class Admit(enum.Enum):
    PASS = "pass"
    CHALLENGE = "challenge"
    FLAG = "flag"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Admission:
    admit: Admit
    verdict: Verdict
    challenge: str | None = None  # CHALLENGE: for the page's script to solve
    difficulty: int = 0
    flag: dict | None = None  # FLAG: {"flag": "over_limit", "reason": ...} for the response


def over_limit_flag(verdict: Verdict) -> dict:
    """The flag a stored submission over `verdict`'s limit carries, with its reason."""
    scope = verdict.which or "survey"
    setting = breakers.SCOPES[scope][0]
    reason = OVER_LIMIT_REASONS[scope].format(limit=current_app.config[setting])
    return {"flag": "over_limit", "reason": reason + "; sent without the page's script"}


def admit_page(
    survey_id: int,
    network_key: str | None,
    device_hash: str | None,
    script: bool,
    challenge: str = "",
    counter: str = "",
) -> Admission:
    """A submission from the questionnaire page: `script` when the page's script sent
    it (it can solve a challenge), with the challenge and counter it found, if any."""
    solved = False
    if challenge and counter:
        check = proof_of_work.verify(survey_id, challenge, counter)
        solved = check is Check.SOLVED
        counters.count(survey_id, "challenges_solved" if solved else "challenges_refused")
    verdict = breakers.check(survey_id, network_key, device_hash, solved=solved)
    if not verdict.over:
        return Admission(Admit.PASS, verdict)
    if solved:
        counters.count(survey_id, f"limited_{verdict.which}")
        return Admission(Admit.PASS, verdict)
    return page_over_limit(survey_id, verdict, script)


def page_over_limit(survey_id: int, verdict: Verdict, script: bool) -> Admission:
    """A page's submission over `verdict`'s limit, without a solved proof of work: a
    challenge for the page's script, else stored with a flag (admit_page's answer; also
    when the accept script found it over, see submit.py)."""
    counters.count(survey_id, f"limited_{verdict.which}")
    if script:
        counters.count(survey_id, "challenges_issued")
        difficulty = current_app.config["POW_DIFFICULTY_BITS"]
        return Admission(
            Admit.CHALLENGE,
            verdict,
            challenge=proof_of_work.issue(survey_id, difficulty),
            difficulty=difficulty,
        )
    return Admission(Admit.FLAG, verdict, flag=over_limit_flag(verdict))


def admit_api(survey_id: int, network_key: str | None, device_hash: str | None) -> Admission:
    """A submission through the API: over a limit, the client is asked to wait."""
    verdict = breakers.check(survey_id, network_key, device_hash)
    if not verdict.over:
        return Admission(Admit.PASS, verdict)
    return api_over_limit(survey_id, verdict)


def api_over_limit(survey_id: int, verdict: Verdict) -> Admission:
    """An API submission over `verdict`'s limit (admit_api's answer; also when the
    accept script found it over): the client waits."""
    counters.count(survey_id, f"limited_{verdict.which}")
    return Admission(Admit.REFUSE, verdict)


def limits(survey_id: int, network_key: str | None, device_hash: str | None) -> Limits:
    """The breakers' check of admit_api or of admit_page without a proof of work, left
    for intake.submit to run with the accept script (one Redis round trip instead of
    two); a LIMITED answer then goes to api_over_limit or page_over_limit."""
    return breakers.limits(survey_id, network_key, device_hash)


def count_stored_over_limit(survey_id: int) -> None:
    """A FLAG submission was stored (flagged): counted for /metrics."""
    counters.count(survey_id, OVER_LIMIT_STORED)
