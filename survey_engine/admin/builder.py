"""The questionnaire builder: staff edit a survey's newest draft in the browser.

Plain HTML forms, no framework. Every save takes the newest version's definition,
applies one change (survey_engine/definition/editing.py), and stores the result
only if validate_definition() accepts the whole survey (builder_drafts.py); otherwise
the form comes back with each problem at its field and nothing is saved. A published
version is never touched: the first change after publishing starts the next draft
version. Here: the overview, pages, questions and choice lists; the forms are read in
builder_forms.py, the survey-wide pages are builder_settings.py, the preview
preview.py.
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.builder_drafts import (
    SaveRefused,
    editable_survey,
    page_context,
    refuse_fields,
    save,
    text_in,
    working_copy,
)
from survey_engine.admin.builder_forms import (
    question_from_form,
    split_problems,
    table_rows,
    texts_from_form,
)
from survey_engine.admin.builder_localities import add_from_form, locality_options
from survey_engine.definition import Definition
from survey_engine.definition import editing as edit
from survey_engine.definition.problems import N_
from survey_engine.extensions import db
from survey_engine.models import Survey, SurveyVersion
from survey_engine.web.security import CONTENT_SECURITY_POLICY

APPEARANCES = ("", "minimal", "likert", "multiline")

# The overview frames the preview (this origin's only): staff pages' policy plus that.
OVERVIEW_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY
    + "; frame-src 'self'; frame-ancestors 'none'"
}


# -- the overview and structural changes --------------------------------------------


@bp.get("/surveys/<slug>/edit")
@login_required
def builder(slug: str):
    survey = editable_survey(slug)
    data, version = working_copy(survey)
    return _overview(survey, data, version)


def _overview(
    survey: Survey,
    data: dict,
    version: SurveyVersion,
    problems: list[str] | None = None,
    status: int = 200,
):
    html = render_template(
        "admin/builder/overview.html",
        **page_context(survey, data, version),
        d=Definition(data),
        problems=problems or [],
        types=edit.TYPES_IN_ORDER,
        localities=locality_options(),
        can_undo=version.published_at is None and version.previous_definition is not None,
    )
    return html, status, OVERVIEW_HEADERS


STRUCTURE_CHANGES = (
    "add_page",
    "add_question",
    "page_up",
    "page_down",
    "delete_page",
    "question_up",
    "question_down",
    "delete_question",
    "add_locality",
    "place_question",
    "place_page",
    "duplicate_question",
    "duplicate_page",
    "add_row_question",
)


@bp.post("/surveys/<slug>/edit")
@login_required
def change_structure(slug: str):
    """Add, move and delete pages and questions: one button, one change."""
    survey = editable_survey(slug)
    data, version = working_copy(survey)
    form = request.form
    change = form.get("change", "")
    target = form.get("target", "")
    added: list[str] = []
    try:
        if change == "add_page":
            question = edit.blank_question(
                data,
                form.get("type", ""),
                form.get("question_name", "").strip(),
                form.get("question_label", "").strip(),
            )
            edit.add_page(
                data,
                form.get("page_name", "").strip(),
                form.get("page_title", "").strip() or None,
                question,
            )
        elif change == "add_question":
            question = edit.blank_question(
                data,
                form.get("type", ""),
                form.get("question_name", "").strip(),
                form.get("question_label", "").strip(),
            )
            data["pages"][edit.page_index(data, target)]["questions"].append(question)
        elif change == "add_row_question":  # target: the roster, on whose page it is
            question = edit.blank_question(
                data,
                form.get("row_type", ""),  # not `type`: the roster's own form has that
                form.get("question_name", "").strip(),
                form.get("question_label", "").strip(),
            )
            edit.add_row_question(data, target, question)
        elif change in ("page_up", "page_down"):
            edit.move_page(data, target, -1 if change == "page_up" else 1)
        elif change == "delete_page":
            edit.delete_page(data, target)
        elif change in ("question_up", "question_down"):
            edit.move_question(data, target, -1 if change == "question_up" else 1)
        elif change == "place_question":  # a drag and drop
            edit.place_question(
                data, target, form.get("page", ""), form.get("before", "").strip() or None
            )
        elif change == "place_page":  # a drag and drop
            edit.place_page(data, target, form.get("before", "").strip() or None)
        elif change == "duplicate_question":
            added = [edit.duplicate_question(data, target)]
        elif change == "duplicate_page":
            target = edit.duplicate_page(data, target)  # the copy is where to look
        elif change == "delete_question":
            edit.delete_question(data, target)
        elif change == "add_locality":
            added = add_from_form(data, form, target)
        else:
            abort(400)
        save(survey, data, f"{change} {target or form.get('question_name', '')}".strip())
    except edit.EditRefused as error:
        refused = [error.problem.in_language(_)]
        return _overview(survey, working_copy(survey)[0], version, refused, 422)
    except SaveRefused as error:
        db.session.rollback()
        return _overview(
            survey, working_copy(survey)[0], version, [_("Not saved:")] + error.problems, 422
        )
    if added:
        flash(_("Added the questions %(names)s.", names=", ".join(added)))
        if change == "duplicate_question":
            return redirect(url_for("admin.edit_question", slug=slug, name=added[0]))
        return redirect(url_for("admin.builder", slug=slug) + f"#q-{added[0]}")
    if change == "delete_page":
        flash(_("The page %(name)s was deleted.", name=target))
    if change == "delete_question":
        flash(_("The question %(name)s was deleted.", name=target))
    if form.get("roster") and change in ("question_up", "question_down", "delete_question"):
        # a change of a row's question, made on its roster's page: back to that page
        return redirect(url_for("admin.edit_question", slug=slug, name=target_roster(data, target)))
    if change in ("add_question", "add_page", "add_row_question"):
        return redirect(
            url_for("admin.edit_question", slug=slug, name=form.get("question_name", "").strip())
        )
    return redirect(url_for("admin.builder", slug=slug) + f"#{target}")


def target_roster(data: dict, name: str) -> str:
    """The roster whose row asks `name` (the form's own roster if it was deleted)."""
    row = edit.row_position(data, name)
    return row[0]["name"] if row is not None else request.form.get("roster", "")


# -- one question ---------------------------------------------------------------------


@bp.route("/surveys/<slug>/edit/questions/<name>", methods=["GET", "POST"])
@login_required
def edit_question(slug: str, name: str):
    survey = editable_survey(slug)
    data, version = working_copy(survey)
    # A roster's row question is edited like any other, and stays in its row.
    row = edit.row_position(data, name)
    roster = row[0]["name"] if row is not None else None
    try:
        p, q = edit.question_position(data, roster or name)
    except edit.EditRefused:
        abort(404)
    question, page_name = data["pages"][p]["questions"][q], data["pages"][p]["name"]
    path = f"pages[{p}].questions[{q}]"
    if row is not None:
        question, path = row[0]["questions"][row[1]], f"{path}.questions[{row[1]}]"
    errors: dict[str, list[str]] = {}
    others: list[str] = []
    if request.method == "POST":
        languages = edit.languages(data)
        field_problems: dict[str, list[str]] = {}
        question = question_from_form(request.form, languages, field_problems)
        if roster is None:
            page_name = request.form.get("page", page_name)
        try:
            refuse_fields(
                [
                    f"{path}.{field}: {text}"
                    for field, texts in field_problems.items()
                    for text in texts
                ],
                data,
            )
            edit.replace_question(data, name, question, page_name)
            if edit.NAME_RE.match(question["name"]):
                edit.rename_references(data, name, question["name"])
            if roster is None and question["name"]:
                p, q = edit.question_position(data, question["name"])
                path = f"pages[{p}].questions[{q}]"
            save(survey, data, f"question {question['name']}")
        except edit.EditRefused as error:
            others = [error.problem.in_language(_)]
        except SaveRefused as error:
            db.session.rollback()
            errors, others = split_problems(error.problems, path)
            shown = edit.keys_for(question.get("type", "")) | {"page"}
            others += [
                f"{field}: {text}"
                for field, texts in errors.items()
                if field not in shown
                for text in texts
            ]
        else:
            flash(_("The question %(name)s was saved.", name=question["name"]))
            if roster is not None:
                return redirect(url_for("admin.edit_question", slug=slug, name=roster))
            return redirect(url_for("admin.builder", slug=slug) + f"#q-{question['name']}")
    html = render_template(
        "admin/builder/question.html",
        **page_context(survey, data, version),
        question=question,
        old_name=name,
        page_name=page_name,
        errors=errors,
        others=others,
        types=edit.TYPES_IN_ORDER if roster is None else edit.ROW_TYPES_IN_ORDER,
        keys=edit.keys_for(question.get("type", "")),
        roster=roster,
        row_types=edit.ROW_TYPES_IN_ORDER,
        appearances=APPEARANCES,
        lists=sorted((data.get("choice_lists") or {}).keys()),
        text=text_in,
    )
    return html, 422 if errors or others else 200


# -- one page ---------------------------------------------------------------------------


@bp.route("/surveys/<slug>/edit/pages/<name>", methods=["GET", "POST"])
@login_required
def edit_page(slug: str, name: str):
    survey = editable_survey(slug)
    data, version = working_copy(survey)
    try:
        index = edit.page_index(data, name)
    except edit.EditRefused:
        abort(404)
    page = data["pages"][index]
    errors: dict[str, list[str]] = {}
    others: list[str] = []
    if request.method == "POST":
        form = request.form
        page = {
            "name": form.get("name", "").strip(),
            **{
                key: value
                for key, value in (
                    ("title", texts_from_form(form, "title", edit.languages(data))),
                    ("relevant", form.get("relevant", "").strip()),
                )
                if value
            },
            "questions": page["questions"],
        }
        data["pages"][index] = page
        try:
            save(survey, data, f"page {page['name']}")
        except SaveRefused as error:
            db.session.rollback()
            errors, others = split_problems(error.problems, f"pages[{index}]")
        else:
            flash(_("The page %(name)s was saved.", name=page["name"]))
            return redirect(url_for("admin.builder", slug=slug) + f"#{page['name']}")
    html = render_template(
        "admin/builder/page.html",
        **page_context(survey, data, version),
        page=page,
        old_name=name,
        errors=errors,
        others=others,
        text=text_in,
    )
    return html, 422 if errors or others else 200


# -- choice lists ---------------------------------------------------------------------


@bp.get("/surveys/<slug>/edit/lists")
@login_required
def new_list(slug: str):
    """The builder's "create a list" form: an empty table for the name asked for."""
    editable_survey(slug)
    name = request.args.get("name", "").strip()
    if not edit.NAME_RE.match(name):
        flash(_("A list name has letters, digits and _, and starts with a letter."), "error")
        return redirect(url_for("admin.builder", slug=slug) + "#lists")
    return redirect(url_for("admin.edit_list", slug=slug, name=name, new=1))


@bp.route("/surveys/<slug>/edit/lists/<name>", methods=["GET", "POST"])
@login_required
def edit_list(slug: str, name: str):
    """One choice list as a table: name, label in each language, extra properties
    (what a choice_filter reads, such as a commune's district), exclusive."""
    survey = editable_survey(slug)
    data, version = working_copy(survey)
    lists = data.setdefault("choice_lists", {})
    is_new = name not in lists
    if is_new and request.method == "GET" and not request.args.get("new"):
        abort(404)
    choices = lists.get(name, [])
    # Extra columns: those the choices have, and one just added (still empty).
    columns = sorted({key for c in choices for key in c} - {"name", "label", "exclusive"})
    columns += [c for c in request.args.getlist("column") if c not in columns]
    problems: list[str] = []
    if request.method == "POST":
        problems = _change_list(data, name, columns)
        change, focus = None, None
        if not problems and request.form.get("change"):
            try:
                change, focus = _change_choice(data, name)
            except edit.EditRefused as error:
                problems = [str(error)]
        if not problems:
            try:
                save(survey, data, f"{change or 'choice list'} {name}")
            except SaveRefused as error:
                db.session.rollback()
                problems = error.problems
        if not problems and change and focus is not None:
            flash(CHOICE_CHANGED[change]())
            # Back to the table, on the row the change is about (the script focuses it).
            row = focus + 1
            target = url_for("admin.edit_list", slug=slug, name=name, row=row)
            return redirect(f"{target}#choice-row-{row}")
        if not problems:
            flash(_("The choice list %(name)s was saved.", name=name))
            if new_column := request.form.get("new_column", "").strip():
                # Back to the table, to fill the new column in.
                return redirect(url_for("admin.edit_list", slug=slug, name=name, column=new_column))
            return redirect(url_for("admin.builder", slug=slug) + "#lists")
        choices = lists.get(name, choices)
    html = render_template(
        "admin/builder/list.html",
        **page_context(survey, data, version),
        list_name=name,
        choices=choices,
        columns=columns,
        is_new=is_new,
        used_by=edit.list_users(data, name),
        published_before=any(v.published_at for v in survey.versions),
        focus_row=request.args.get("row", type=int),
        others=problems,
        text=text_in,
        blank_rows=3 if choices else 5,
    )
    return html, 422 if problems else 200


def _change_list(data: dict, name: str, columns: list[str]) -> list[str]:
    """Apply the list form to `data`; what is wrong with it, if anything."""
    form = request.form
    if new_column := form.get("new_column", "").strip():
        if not edit.NAME_RE.match(new_column) or new_column in ("name", "label"):
            return [_("A column name has letters, digits and _, and starts with a letter.")]
        columns.append(new_column)
    if form.get("delete_list"):
        if users := edit.list_users(data, name):
            return [
                _(
                    "The list is used by %(questions)s; it cannot be deleted.",
                    questions=", ".join(users),
                )
            ]
        del data["choice_lists"][name]
        return []
    data["choice_lists"][name] = table_rows(form, "choice", edit.languages(data), columns)
    return []


# What each change of one choice says when done (a button of the list's table: its
# change, a colon and its row's number, so that a name edited in the same form counts).
CHOICE_CHANGED = {
    "add_choice": lambda: _("A choice was added: write its name and label."),
    "choice_up": lambda: _("The choice was moved."),
    "choice_down": lambda: _("The choice was moved."),
    "place_choice": lambda: _("The choice was moved."),
    "duplicate_choice": lambda: _("The choice was duplicated."),
    "delete_choice": lambda: _("The choice was deleted."),
}
ROW_RE = re.compile(r"[0-9]{1,6}")


def _change_choice(data: dict, list_name: str) -> tuple[str, int | None]:
    """Apply the choice change the button pressed names (after the table's own edits);
    the change, and the position of the choice to show next (None: none left)."""
    change, _colon, row = request.form.get("change", "").partition(":")
    if change not in CHOICE_CHANGED:
        abort(400)
    choices = edit.choice_list(data, list_name)
    if change == "add_choice":
        edit.add_choice(data, list_name)
        return change, len(choices) - 1
    name = _row_choice(row)
    if change in ("choice_up", "choice_down"):
        edit.move_choice(data, list_name, name, -1 if change == "choice_up" else 1)
    elif change == "place_choice":
        before = request.form.get("before", "").strip()
        edit.place_choice(data, list_name, name, _row_choice(before) if before else None)
    elif change == "duplicate_choice":
        name = edit.duplicate_choice(data, list_name, name)
    else:
        index = edit.choice_index(choices, name)
        edit.delete_choice(data, list_name, name)
        return change, min(index, len(choices) - 1) if choices else None
    return change, edit.choice_index(choices, name)


def _row_choice(row: str) -> str:
    """The name the table's row `row` holds as submitted (a row emptied or ticked for
    removal holds none)."""
    form = request.form
    if not ROW_RE.fullmatch(row):
        raise edit.EditRefused(N_("no row %(row)s in the table"), row=repr(row[:20]))
    name = form.get(f"choice-{row}-name", "").strip()
    if not name or form.get(f"choice-{row}-delete"):
        raise edit.EditRefused(N_("row %(row)s holds no choice"), row=row)
    return name
