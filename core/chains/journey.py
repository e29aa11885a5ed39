"""The journey: a chain's narrative, one step per stage (what the agent did, how it ended) and a one-line summary."""

from __future__ import annotations

from core.chains.models import ChainStage, JourneyResponse, JourneyStep

FEEDBACK_CHARS = 200
ERROR_CHARS = 200

# Agent ids name a role ("design-doc-creator", "sprint-planner"): the role noun gives the verb of the action
# (past tense) and of the outcome (participle); the words before it are what the agent worked on.
_ROLES: dict[str, tuple[str, str]] = {
    "creator": ("Created", "created"), "planner": ("Planned", "planned"), "executor": ("Executed", "executed"),
    "reviewer": ("Reviewed", "reviewed"), "writer": ("Wrote", "written"), "tester": ("Tested", "tested"),
    "fixer": ("Fixed", "fixed"), "builder": ("Built", "built"), "coder": ("Coded", "coded"),
    "implementer": ("Implemented", "implemented"), "designer": ("Designed", "designed"),
    "analyzer": ("Analyzed", "analyzed"), "analyser": ("Analysed", "analysed"), "merger": ("Merged", "merged"),
    "deployer": ("Deployed", "deployed"), "triager": ("Triaged", "triaged"), "researcher": ("Researched", "researched"),
    "debugger": ("Debugged", "debugged"), "validator": ("Validated", "validated"), "verifier": ("Verified", "verified"),
    "generator": ("Generated", "generated"), "summarizer": ("Summarized", "summarized"), "runner": ("Ran", "run"),
    "refactorer": ("Refactored", "refactored"), "documenter": ("Documented", "documented"),
}


def _role(agent_id: str) -> tuple[str, tuple[str, str] | None]:
    """(what the agent worked on, its verbs) from a role-style id; the id itself and None for any other id."""
    words = agent_id.replace("_", "-").split("-")
    verbs = _ROLES.get(words[-1].lower())
    if verbs is None:
        return agent_id, None
    return " ".join(w for w in words[:-1] if w), verbs


def action(stage: ChainStage) -> str:
    """"Created design doc" for design-doc-creator, "Reviewed" for reviewer, "Ran <agent>" otherwise."""
    subject, verbs = _role(stage.agent_id)
    if verbs is None:
        return f"Ran {stage.agent_id}"
    return f"{verbs[0]} {subject}".rstrip()


def _outcome(stage: ChainStage) -> str:
    if stage.status == "awaiting_approval":
        return "awaiting approval"
    if stage.approval_status in ("approved", "rejected") and stage.status in ("completed", "failed"):
        return stage.approval_status
    if stage.status == "completed":
        verbs = _role(stage.agent_id)[1]
        return verbs[1] if verbs else "completed"
    return {"running": "in progress", "failed": "failed", "pending": "pending"}[stage.status]


def _phrase(stage: ChainStage) -> str:
    subject, verbs = _role(stage.agent_id)
    subject = subject if verbs is not None and subject else stage.agent_id
    subject = subject[:1].upper() + subject[1:]
    if stage.iteration > 1:
        subject += f" (iteration {stage.iteration})"
    return f"{subject} {_outcome(stage)}"


def _cut(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_excerpt(message: str | None) -> str | None:
    """The first non-blank line of an error message, cut to 200 characters."""
    for line in (message or "").splitlines():
        if line.strip():
            return _cut(line.strip(), ERROR_CHARS)
    return None


def duration_ms(stage: ChainStage) -> int:
    """The reported duration; without one, the wall time from start to completion when both are known."""
    if stage.duration_ms > 0:
        return stage.duration_ms
    if stage.started_at is not None and stage.completed_at is not None:
        return max(0, round((stage.completed_at - stage.started_at).total_seconds() * 1000))
    return 0


def journey(chain_id: str, stages: list[ChainStage]) -> JourneyResponse:
    steps = [
        JourneyStep(stage_number=s.stage_number, agent_id=s.agent_id, action=action(s), status=s.status,
                    approval_status=s.approval_status, iteration=s.iteration,
                    feedback=_cut(s.human_feedback, FEEDBACK_CHARS), error_excerpt=error_excerpt(s.error_message),
                    cost=s.cost, duration_ms=duration_ms(s))
        for s in stages
    ]
    summary = " -> ".join(_phrase(s) for s in stages) if stages else "No stages yet"
    return JourneyResponse(chain_id=chain_id, steps=steps, summary=summary)
