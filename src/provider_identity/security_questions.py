"""Security questions: a support-desk extra check, never an authenticator.

"Select a Security Question, and type your Security Answer. Keep this
information available, as you may need to answer your security question to
confirm your identity when calling for support."

NIST SP 800-63B and OWASP ASVS forbid knowledge-based answers as an
authenticator, so here an answer never logs in, resets or unlocks anything on
its own. Answers are normalised (NFKC, case-folded, whitespace collapsed) and
argon2-hashed; wrong answers are limited (3 by default, then a 24-hour lock).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import attrs

from provider_identity import _checks
from provider_identity._fields import FieldErrors, fold_words
from provider_identity.errors import ConfigurationError, InvalidInput
from provider_identity.i18n import msg
from provider_identity.lockout import LockoutPolicy

__all__ = ["DEFAULT_QUESTIONS", "SecurityQuestions", "normalize_answer"]

DEFAULT_QUESTIONS = (
    "What is the name of your first pet?",
    "In what city were you born?",
    "What was the name of your elementary school?",
    "What was the make of your first car?",
    "What is the name of the street you grew up on?",
    "What was your childhood nickname?",
)


def normalize_answer(answer: str) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed: "  Rex " and "rex" agree."""
    return fold_words(answer)


def _questions(values: Iterable[str]) -> tuple[str, ...]:
    return _checks.text_tuple("SecurityQuestions.questions", values)


def _check_questions(instance: object, attribute: object, value: tuple[str, ...]) -> None:
    if not value or any(not isinstance(q, str) or not q.strip() for q in value):
        raise ConfigurationError(
            "SecurityQuestions.questions must be a non-empty list of non-blank text."
        )


@attrs.frozen(kw_only=True)
class SecurityQuestions:
    """The configured questions, answer rules and the wrong-answer limit.

    Attributes:
        questions: The questions a registrant may pick from.
        max_answer_length: Longest answer accepted, in characters.
        attempts: Wrong answers allowed before the check locks, and for how long.
    """

    questions: tuple[str, ...] = attrs.field(
        default=DEFAULT_QUESTIONS,
        converter=_questions,
        validator=_check_questions,
    )
    max_answer_length: int = attrs.field(default=128, validator=_checks.integer(minimum=1))
    attempts: LockoutPolicy = attrs.field(
        default=LockoutPolicy(max_failures=3, lock_duration=timedelta(hours=24)),
        validator=_checks.instance_of(LockoutPolicy),
    )

    def validate(self, question: object, answer: object) -> str:
        """Check a question/answer pair; return the normalised answer.

        Raises:
            InvalidInput: the question is not one of ``questions``, or the
                answer is not usable text (both reported at once).
        """
        errors = FieldErrors()
        if question not in self.questions:
            errors.add(
                "security_question", "unknown_question", msg("Please select a Security Question.")
            )
        text = errors.text(
            "security_answer",
            answer,
            label=msg("Security Answer"),
            max_length=self.max_answer_length,
        )
        if text is None or errors.errors:
            raise InvalidInput(errors.errors)
        return normalize_answer(text)
