"""Raking weights: the algorithm against published examples (Lohr's to 4 decimals, a
three-way one, Wikipedia's) and R's survey package, the margins file staff upload,
and `survey-engine weights` on the demo."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from survey_engine.cli import cli
from survey_engine.models import SurveyWeighting
from survey_engine.raking import RakingInfeasible, effective_n, rake
from survey_engine.results.margins import MarginsError, read_margins
from survey_engine.results.report import merged_survey
from survey_engine.results.weights import cell_counts, current_weights
from tests.conftest import DEMO_SLUG, stored_responses

# The worked example of Wikipedia's "Iterative proportional fitting" article (section
# "Example"): a 4×4 seed table, row targets 150 300 400 150, column targets 200 300 400
# 100, and the table it prints after the third cycle (rows, then columns), to the two
# decimals it gives.
SEED = [[40, 30, 20, 10], [35, 50, 100, 75], [30, 80, 70, 120], [20, 30, 40, 50]]
ROW_TARGETS = [150, 300, 400, 150]
COLUMN_TARGETS = [200, 300, 400, 100]
PUBLISHED_AFTER_3_CYCLES = [
    [64.61, 46.28, 35.42, 3.83],
    [49.95, 68.15, 156.49, 25.37],
    [56.70, 144.40, 145.06, 53.76],
    [28.74, 41.18, 63.03, 17.03],
]


def _seed_counts():
    return {(str(r), str(c)): SEED[r][c] for r in range(4) for c in range(4)}


def _targets():
    return [
        {str(i): t for i, t in enumerate(ROW_TARGETS)},
        {str(i): t for i, t in enumerate(COLUMN_TARGETS)},
    ]


def _table(result, counts) -> list[list[float]]:
    fitted = result.fitted(counts)
    n = sum(counts.values())
    return [[fitted[(str(r), str(c))] * 1000 / n for c in range(4)] for r in range(4)]


def test_raking_reproduces_the_published_worked_example():
    counts = _seed_counts()
    result = rake(counts, _targets(), tolerance=0, max_cycles=3)
    table = _table(result, counts)
    for r in range(4):
        for c in range(4):
            assert round(table[r][c], 2) == pytest.approx(PUBLISHED_AFTER_3_CYCLES[r][c], abs=1e-9)


# Lohr's raking example (S. L. Lohr, "Sampling: Design and Analysis", Duxbury 1999,
# pp. 269-271: the 1994 survey of the American Statistical Association's members), as
# the manual of the CRAN package `rake` (T. D. Hocking, v1.2, 2011, section 2.2
# "rakeadj") prints it converged, to 4 decimals: 5,001 respondents by work environment
# (academic, industry, other) and degree (no PhD, PhD), raked to the population's
# margins (18,609 members) and scaled back to the sample's total.
LOHR_SAMPLE = {("A", "N"): 434, ("A", "P"): 1787, ("I", "N"): 1011, ("I", "P"): 798,
               ("O", "N"): 520, ("O", "P"): 451}  # fmt: skip
LOHR_POPULATION = [{"A": 6327, "I": 5397, "O": 6885}, {"N": 8374, "P": 10235}]
LOHR_PUBLISHED = {("A", "N"): 361.8412, ("A", "P"): 1338.4826, ("I", "N"): 848.6274,
                  ("I", "P"): 601.7674, ("O", "N"): 1039.9679, ("O", "P"): 810.3134}  # fmt: skip


def test_raking_reproduces_lohr_s_example_to_4_decimals():
    result = rake(LOHR_SAMPLE, LOHR_POPULATION)
    assert result.converged
    fitted = result.fitted(LOHR_SAMPLE)  # our weights average 1: the sample's scale
    assert {cell: round(x, 4) for cell, x in fitted.items()} == LOHR_PUBLISHED
    # Each respondent's weight at the population's scale, e.g. 3.1024 for an academic
    # without a PhD.
    to_population = 18609 / 5001
    assert round(result.weights[("A", "N")] * to_population, 4) == 3.1024


# A three-way raking with one margin per dimension, from the documentation of the
# Julia package ProportionalFitting.jl (M. van Kesteren; README, "Converged in 8
# iterations" for its 2x3x2 example): the seed 1..12 filled column first, the margins
# 48 60 / 28 36 44 / 34 74, and the fitted array as it prints it (6 significant digits).
JULIA_SEED = {
    (i, j, k): 1 + i + 2 * j + 6 * k for i in range(2) for j in range(3) for k in range(2)
}
JULIA_TARGETS = [[48, 60], [28, 36, 44], [34, 74]]
JULIA_PUBLISHED = {
    (0, 0, 0): 1.84211, (0, 1, 0): 4.79335, (0, 2, 0): 7.36711,
    (1, 0, 0): 3.89487, (1, 1, 0): 6.75656, (1, 2, 0): 9.34601,
    (0, 0, 1): 10.082, (0, 1, 1): 11.2433, (0, 2, 1): 12.6722,
    (1, 0, 1): 12.1811, (1, 1, 1): 13.2068, (1, 2, 1): 14.6147,
}  # fmt: skip


def test_raking_reproduces_a_published_three_way_example():
    counts = {tuple(map(str, cell)): n for cell, n in JULIA_SEED.items()}
    targets = [{str(i): t for i, t in enumerate(margin)} for margin in JULIA_TARGETS]
    result = rake(counts, targets)
    fitted = result.fitted(counts)
    scale = 108 / sum(counts.values())  # the margins' total over the seed's
    for cell, printed in JULIA_PUBLISHED.items():
        decimals = 6 - len(str(int(printed)))  # 6 significant digits
        assert round(fitted[tuple(map(str, cell))] * scale, decimals) == printed, cell


def test_raking_converges_to_the_margins_keeping_the_seed_s_odds_ratios():
    """The converged table meets every margin to 4 decimals and more, and is the seed
    scaled by a factor per row and per column (X = P·Z·Q): every 2×2 odds ratio of the
    seed is kept. Both together define the solution uniquely."""
    counts = _seed_counts()
    result = rake(counts, _targets())
    assert result.converged and result.cycles < 50
    table = _table(result, counts)
    for r in range(4):
        assert math.fsum(table[r]) == pytest.approx(ROW_TARGETS[r], abs=1e-6)
    for c in range(4):
        assert math.fsum(row[c] for row in table) == pytest.approx(COLUMN_TARGETS[c], abs=1e-6)
    for r in range(3):
        for c in range(3):
            seed_odds = SEED[r][c] * SEED[r + 1][c + 1] / (SEED[r][c + 1] * SEED[r + 1][c])
            odds = table[r][c] * table[r + 1][c + 1] / (table[r][c + 1] * table[r + 1][c])
            assert odds == pytest.approx(seed_odds, rel=1e-9)
    # The converged table to 4 decimals, as the published one is to 2 after 3 cycles.
    assert [round(x, 4) for x in table[0]] == [64.5585, 46.2325, 35.3843, 3.8247]
    # A cell's weight is the product of its row's and column's factors.
    for cell, weight in result.weights.items():
        product = result.factors[0][cell[0]] * result.factors[1][cell[1]] * result.scale
        assert weight == pytest.approx(product, rel=1e-9)


# Raking by the R survey package (Lumley; Debian's r-cran-survey), a reference
# implementation we did not write: rows of data with a weight column `w` raked to
# population margins; it writes each row's raked weight.
R_RAKE = """
suppressPackageStartupMessages(library(survey))
d <- read.csv("data.csv", colClasses = "character", encoding = "UTF-8")
d$w <- as.numeric(d$w)
vars <- setdiff(names(d), "w")
for (v in vars) d[[v]] <- factor(d[[v]])
design <- svydesign(ids = ~1, weights = ~w, data = d)
margins <- lapply(vars, function(v) {
  m <- read.csv(paste0("margin_", v, ".csv"), colClasses = c("character", "numeric"),
                encoding = "UTF-8")
  names(m) <- c(v, "Freq")
  m
})
formulas <- lapply(vars, function(v) as.formula(paste0("~", v)))
raked <- rake(design, formulas, margins, control = list(maxit = 1000, epsilon = 1e-12))
write.csv(data.frame(w = sprintf("%.12g", weights(raked))), "raked.csv", row.names = FALSE)
"""


def r_survey_rake(
    folder: Path, rows: list[dict[str, str]], weights: list[float], margins: dict
) -> list[float]:
    """Each row's weight as R's survey::rake() makes it: rows of the raking variables,
    their starting weights, and per variable {category: population total}."""
    assert shutil.which("Rscript"), "R is needed (r-base-core, r-cran-survey: make debian-tools)"
    variables = list(margins)
    with open(folder / "data.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*variables, "w"])
        for row, weight in zip(rows, weights, strict=True):
            writer.writerow([*(row[v] for v in variables), repr(weight)])
    for variable, totals in margins.items():
        with open(folder / f"margin_{variable}.csv", "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows([[variable, "Freq"], *totals.items()])
    (folder / "rake.R").write_text(R_RAKE, encoding="utf-8")
    subprocess.run(
        ["Rscript", "rake.R"], cwd=folder, check=True, env={"LANG": "C.UTF-8"}, timeout=120
    )
    with open(folder / "raked.csv", encoding="utf-8") as raked:
        return [float(line["w"]) for line in csv.DictReader(raked)]


def test_r_survey_package_rakes_the_published_example_to_the_same_table(tmp_path):
    """The converged table of the published example, made independently by R's survey
    package from the seed (each cell a row weighted by its count), equals ours to 4
    decimals and beyond."""
    counts = _seed_counts()
    ours = _table(rake(counts, _targets()), counts)
    cells = list(counts)
    theirs = r_survey_rake(
        tmp_path,
        [{"row": f"r{r}", "col": f"c{c}"} for r, c in cells],
        [float(counts[cell]) for cell in cells],
        {
            "row": {f"r{i}": t for i, t in enumerate(ROW_TARGETS)},
            "col": {f"c{i}": t for i, t in enumerate(COLUMN_TARGETS)},
        },
    )
    for (r, c), fitted in zip(cells, theirs, strict=True):
        assert round(ours[int(r)][int(c)], 4) == round(fitted, 4)
        assert ours[int(r)][int(c)] == pytest.approx(fitted, rel=1e-8)


def test_bounds_keep_every_weight_within_them():
    counts = {("a",): 90, ("b",): 10}
    result = rake(counts, [{"a": 0.1, "b": 0.9}], bounds=(0.5, 3.0))
    assert all(0.5 - 1e-9 <= w <= 3.0 + 1e-9 for w in result.weights.values())
    assert not result.converged and result.trimmed  # the margins cannot be met within them
    free = rake(counts, [{"a": 0.1, "b": 0.9}])
    assert free.converged and free.weights[("b",)] == pytest.approx(9.0)


def test_targets_that_cannot_be_met_are_refused():
    with pytest.raises(RakingInfeasible) as caught:
        rake({("a",): 5, ("b",): 5}, [{"a": 1, "b": 1, "c": 1}])
    assert (caught.value.kind, caught.value.categories) == ("no_respondent", ["c"])
    with pytest.raises(RakingInfeasible) as caught:
        rake({("a",): 5, ("b",): 5}, [{"a": 1}])
    assert (caught.value.kind, caught.value.categories) == ("no_target", ["b"])
    with pytest.raises(RakingInfeasible, match="bad_targets"):
        rake({("a",): 5}, [{"a": float("nan")}])


def test_kish_effective_n():
    assert effective_n([(1.0, 100)]) == pytest.approx(100)
    # half the sample at weight 3, half at 1: (50·3 + 50)² / (50·9 + 50) = 80
    assert effective_n([(3.0, 50), (1.0, 50)]) == pytest.approx(80)


MARGINS_CSV = (
    "variable,category,count\n"
    "role,parent,600\nrole,pupil,250\nrole,\"Giáo viên, cán bộ quản lý\",100\nrole,other,50\n"
)


def test_a_margins_file_is_read_by_choice_name_or_label(app):
    merged = merged_survey(_demo(app))
    margins = read_margins(MARGINS_CSV.encode(), "census.csv", merged)
    assert margins.targets == {
        "role": {"parent": 0.6, "pupil": 0.25, "teacher": 0.1, "other": 0.05}
    }
    shares = "biến;nhóm;tỉ lệ\nrole;parent;60%\nrole;pupil;25%\nrole;teacher;10%\nrole;other;5%\n"
    assert read_margins(shares.encode(), "m.csv", merged).targets == margins.targets


def test_every_problem_of_a_margins_file_is_named_with_its_row(app):
    merged = merged_survey(_demo(app))
    bad = (
        "variable,category,count\n"
        "children,3,10\n"  # not a single-choice question
        "role,astronaut,5\n"  # not a choice
        "role,parent,lots\n"  # not a number
        "role,pupil,=1+1\n"
        "nope,x,1\n"
    )
    with pytest.raises(MarginsError) as caught:
        read_margins(bad.encode(), "m.csv", merged)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["Row 2", "Row 3", "Row 4", "Row 5", "Row 6"]
    assert caught.value.texts("vi")[1].startswith("Dòng 3: 'astronaut'")
    for text, expected in [
        (b"\xff\xfe", "not UTF-8"),
        (b"", "empty"),
        (b"a,b\n1,2\n", "it lacks"),
        (b"variable,category,share\nrole,parent,0.5\nrole,pupil,0.2\n", "add up to 0.7"),
        (b"x" * 1_000_001, "over 1000 kB"),
        (b"PK\x03\x04broken", "not an Excel workbook"),
    ]:
        with pytest.raises(MarginsError, match=expected):
            read_margins(text, "m.xlsx" if text.startswith(b"PK") else "m.csv", merged)


def _demo(app):
    from survey_engine.catalog import find_survey

    return find_survey(DEMO_SLUG)


def test_the_weights_command_rakes_the_demo_to_the_margins(app, tmp_path):
    runner = app.test_cli_runner()
    assert (
        runner.invoke(cli, ["fake-responses", DEMO_SLUG, "--count", "400", "--seed", "3"]).exit_code
        == 0
    )
    margins = tmp_path / "census.csv"
    margins.write_text(MARGINS_CSV, encoding="utf-8")
    result = runner.invoke(cli, ["weights", DEMO_SLUG, "--margins", str(margins)])
    assert result.exit_code == 0, result.output
    assert "400 responses weighted on role: converged" in result.output
    weights = current_weights(_demo(app).id)
    assert weights is not None and weights.variables == ("role",)
    # The weighted shares of role are the margins, computed from the responses
    # themselves (not from the stored report).
    by_role: Counter[str] = Counter()
    for response in stored_responses():
        by_role[response.answers.get("role") or ""] += weights.weight_of(response.answers)
    total = sum(by_role.values())
    assert total == pytest.approx(400)  # the mean weight is 1
    for role, share in {"parent": 0.6, "pupil": 0.25, "teacher": 0.1, "other": 0.05}.items():
        assert by_role[role] / total == pytest.approx(share, abs=1e-6)
    assert sum(cell_counts(_demo(app).id, ("role",)).values()) == 400
    # Bad input: a clear error, and the stored weights kept.
    bad = tmp_path / "bad.csv"
    bad.write_text("variable,category,count\nrole,astronaut,1\n", encoding="utf-8")
    refused = runner.invoke(cli, ["weights", DEMO_SLUG, "--margins", str(bad)])
    assert refused.exit_code != 0 and "'astronaut' is not a choice of role" in refused.output
    assert current_weights(_demo(app).id) == weights
    wrong = runner.invoke(cli, ["weights", DEMO_SLUG, "--margins", str(margins), "--bounds", "2,1"])
    assert wrong.exit_code != 0 and "lower bound must be under 1" in wrong.output
    # Margins that leave out a role some respondents have: named, nothing changed.
    partial = tmp_path / "partial.csv"
    partial.write_text("variable,category,count\nrole,parent,1\nrole,pupil,1\n", encoding="utf-8")
    refused = runner.invoke(cli, ["weights", DEMO_SLUG, "--margins", str(partial)])
    assert "role: responses are in other, teacher, which the margins do not give" in refused.output
    assert current_weights(_demo(app).id) == weights
    removed = runner.invoke(cli, ["weights", DEMO_SLUG, "--remove"])
    assert removed.exit_code == 0 and current_weights(_demo(app).id) is None
    assert SurveyWeighting.query.count() == 0
