"""Figures as words, in a language chosen explicitly (a report's, not the request's):
"62,0% (58,1–65,7%)" and the one-line plain reading under a chart.

Every text the report (and, later, any other file) makes of a share is made here, so
a weighted figure (raking weights) joins in one place: each function that writes a
share takes an optional `weighted` estimate to write beside the unweighted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from babel.numbers import format_decimal

from survey_engine.figures import NumberSummary
from survey_engine.i18n import N_, file_translations

DASH = "–"


class Estimate(Protocol):
    """What a text needs of a share: a ratio and its 95% interval (figures.Share, or a
    weighted share with its effective n)."""

    @property
    def ratio(self) -> float | None: ...

    @property
    def interval(self) -> tuple[float, float] | None: ...


@dataclass(frozen=True)
class Words:
    """Numbers and sentences in one language: 'vi' writes 62,5%, 'en' 62.5%."""

    lang: str

    def _(self, text: str, **values: object) -> str:
        translated = file_translations(self.lang).gettext(text)
        return translated % values if values else translated

    def number(self, value: float | None) -> str:
        if value is None:
            return DASH
        if float(value).is_integer():
            return format_decimal(int(value), "#,##0", locale=self.lang)
        return format_decimal(value, "#,##0.##", locale=self.lang)

    def percent(self, ratio: float | None) -> str:
        if ratio is None:
            return DASH
        return format_decimal(ratio * 100, "0.0", locale=self.lang) + "%"

    def interval(self, share: Estimate) -> str:
        """'58,1–65,7%', or '' when there is none (nobody answered)."""
        bounds = share.interval
        if bounds is None:
            return ""
        low, high = (format_decimal(v * 100, "0.0", locale=self.lang) for v in bounds)
        return f"{low}{DASH}{high}%"

    def estimate(self, share: Estimate, weighted: Estimate | None = None) -> str:
        """'62,0% (58,1–65,7%)'; with a weighted estimate, it follows: '…; weighted
        60,2% (55,0–65,1%)'."""
        text = self._one(share)
        if weighted is not None:
            text += "; " + self._("weighted %(estimate)s", estimate=self._one(weighted))
        return text

    def cell(self, share: Estimate, weighted: Estimate | None = None) -> str:
        """A table cell: the percentage, its interval on a line under it (and a weighted
        estimate on a third)."""
        lines = [self.percent(share.ratio), self.interval(share)]
        if weighted is not None:
            lines.append(self._("weighted %(estimate)s", estimate=self._one(weighted)))
        return "\n".join(line for line in lines if line)

    def _one(self, share: Estimate) -> str:
        bounds = self.interval(share)
        return f"{self.percent(share.ratio)} ({bounds})" if bounds else self.percent(share.ratio)

    def choice_reading(
        self,
        label: str,
        share: Estimate,
        answered: int,
        multiple: bool,
        weighted: Estimate | None = None,
    ) -> str:
        """The plain reading of a choice question: its most chosen answer."""
        text = MULTIPLE_READING if multiple else CHOICE_READING
        return self._(
            text,
            estimate=self.estimate(share, weighted),
            choice=label,
            answered=self.number(answered),
        )

    def numbers_reading(self, summary: NumberSummary | None) -> str:
        if summary is None:
            return self._(NOBODY)
        reading = self._(
            NUMBERS_READING,
            mean=self.number(round(summary.mean, 2)),
            median=self.number(summary.median),
            low=self.number(summary.q1),
            high=self.number(summary.q3),
            answered=self.number(summary.count),
        )
        if summary.weighted_mean is None:
            return reading
        weighted = self._(
            "Weighted mean %(mean)s.", mean=self.number(round(summary.weighted_mean, 2))
        )
        return f"{reading} {weighted}"

    def answered_reading(self, share: Estimate, answered: int) -> str:
        """For a question without a chart (free text): how many answered it."""
        return self._(
            ANSWERED_READING, answered=self.number(answered), estimate=self.estimate(share)
        )


CHOICE_READING = N_("%(estimate)s chose “%(choice)s” (of %(answered)s who answered).")
MULTIPLE_READING = N_(
    "%(estimate)s chose “%(choice)s” (of %(answered)s who answered; several answers allowed)."
)
NUMBERS_READING = N_(
    "Mean %(mean)s, median %(median)s, half the answers between %(low)s and %(high)s "
    "(%(answered)s answered)."
)
ANSWERED_READING = N_("%(answered)s answered this question (%(estimate)s of the responses).")
NOBODY = N_("Nobody has answered this question yet.")
