"""The risk-tolerance questionnaire: answers scored to C1 (conservative) … C5 (aggressive), kept with the
answers and the questionnaire version, valid for a year (products are sold by matching R1–R5 to it).

The questionnaire is configuration in code (versioned): a new version is a new entry here, and answers to an
outdated version are refused, so every stored level can be traced to the exact questions asked.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from bank_common.errors import BusinessRuleViolation, NotFound
from user_center import profile_events, store
from user_center.models import RiskAssessment
from user_center.schemas import OptionOut, QuestionnaireOut, QuestionOut, RiskAnswersIn, RiskAssessmentOut

VERSION = "2026-01"
VALIDITY_DAYS = 365
# (question id, text, [(option id, text, score)])
QUESTIONS: list[tuple[str, str, list[tuple[str, str, int]]]] = [
    ("q1", "Your age", [("a", "Over 65", 1), ("b", "51-65", 2), ("c", "41-50", 3), ("d", "31-40", 4),
                        ("e", "18-30", 5)]),
    ("q2", "Your investment experience", [("a", "None", 1), ("b", "Deposits and bonds only", 2),
                                          ("c", "Funds, under 3 years", 3), ("d", "Funds and stocks, 3-5 years", 4),
                                          ("e", "More than 5 years, including derivatives", 5)]),
    ("q3", "How long can you leave this money invested", [("a", "Under 6 months", 1), ("b", "6-12 months", 2),
                                                          ("c", "1-3 years", 3), ("d", "3-5 years", 4),
                                                          ("e", "More than 5 years", 5)]),
    ("q4", "The largest loss you could accept in a year", [("a", "None", 1), ("b", "Up to 5%", 2),
                                                           ("c", "Up to 15%", 3), ("d", "Up to 30%", 4),
                                                           ("e", "More than 30%", 5)]),
    ("q5", "Share of your financial assets you would invest", [("a", "Under 10%", 1), ("b", "10-25%", 2),
                                                               ("c", "25-50%", 3), ("d", "50-75%", 4),
                                                               ("e", "Over 75%", 5)]),
]
# Total score (5-25) → level: the upper bound of each band.
LEVELS = [(8, "C1"), (12, "C2"), (16, "C3"), (20, "C4"), (25, "C5")]


class AnswersInvalid(BusinessRuleViolation):
    code, message = "QUESTIONNAIRE_ANSWERS_INVALID", "Answer every question of the current questionnaire once."


def questionnaire() -> QuestionnaireOut:
    return QuestionnaireOut(version=VERSION, validity_days=VALIDITY_DAYS, questions=[
        QuestionOut(question_id=qid, text=text, options=[OptionOut(option_id=o, text=t) for o, t, _ in options])
        for qid, text, options in QUESTIONS])


def score(answers: dict[str, str]) -> tuple[int, str]:
    scores = {qid: {o: points for o, _, points in options} for qid, _, options in QUESTIONS}
    if set(answers) != set(scores) or any(answers[q] not in scores[q] for q in answers):
        raise AnswersInvalid(details={"questions": sorted(scores)})
    total = sum(scores[q][a] for q, a in answers.items())
    return total, next(level for bound, level in LEVELS if total <= bound)


def assess(customer_id: str, body: RiskAnswersIn) -> RiskAssessmentOut:
    if body.version != VERSION:
        raise AnswersInvalid("This questionnaire version is not current.", details={"version": VERSION})
    total, level = score(body.answers)
    now = datetime.now(UTC)
    assessment = RiskAssessment(store.customer_key(customer_id), "", assessment_id="ra_" + uuid.uuid4().hex[:16],
                                questionnaire_version=VERSION, answers=dict(body.answers), score=total, level=level,
                                assessed_at=now.isoformat(),
                                expires_on=(now.date() + timedelta(days=VALIDITY_DAYS)).isoformat())
    store.save_assessment(assessment, int(now.timestamp() * 1000))
    profile_events.profile_changed(customer_id)
    return _out(assessment)


def current(customer_id: str) -> RiskAssessmentOut:
    found = store.current_assessment(customer_id)
    if found is None:
        raise NotFound("No risk assessment yet: answer GET /v1/user/risk-questionnaire.", code="NO_RISK_ASSESSMENT")
    return _out(found)


def _out(assessment: RiskAssessment) -> RiskAssessmentOut:
    return RiskAssessmentOut(assessment_id=assessment.assessment_id,
                             questionnaire_version=assessment.questionnaire_version, score=int(assessment.score),
                             level=assessment.level, assessed_at=assessment.assessed_at,
                             expires_on=assessment.expires_on,
                             expired=date.fromisoformat(assessment.expires_on) < datetime.now(UTC).date(),
                             answers=dict(assessment.answers))
