"""Starting a run from the dashboard: choose or upload a recipe, see its checked plan, then start.

Two forms, so nothing moves before a person has read the plan:

1. choose a recipe from the library (`--recipes DIR`) or upload one; the server runs the press's
   own parser, validator and planner (`firmware.recipe`, as `hotpress recipe check` does) and
   shows every problem, or the plan with its warnings;
2. the plan, and a form for the sample id and operator with a command id made when the form was
   drawn. The button is disabled on the first click, and the command id makes a second submission
   of the same form return the first one's result instead of sending a second `start`.

The sample id is checked here against the press's own rule (letters, digits, '.', '_' and '-',
1 to 64 of them) so a typo is explained in words before anything is sent.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from firmware.link.protocol import MAX_COMMAND_BYTES
from firmware.recipe import RecipeError, check_recipe, parse_recipe, plan_recipe
from host.errors import ConfigError
from host.recipes import check_recipe_file
from host.watch import hms
from host.web import present
from host.web.app import user, web_config
from host.web.views_live import check_press_id

bp = Blueprint("start", __name__)
SAMPLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # firmware.link.commands: start's sample_id
OPERATOR_MAX_CHARS = 64  # firmware.link.commands: start's operator
SAMPLE_RULE = "use 1 to 64 characters from A-Z a-z 0-9 . _ - (no spaces or other signs)"


@dataclass(frozen=True)
class Draft:
    """A recipe that passed the checks, held until its start form comes back."""

    draft_id: str
    source: str
    text: str
    name: str
    plan: dict[str, Any]
    warnings: tuple[str, ...]


def library(recipes_dir: Path | None) -> list[dict[str, str]]:
    """The library's recipes: file name and the recipe's own name (or why it cannot be read)."""
    if recipes_dir is None or not recipes_dir.is_dir():
        return []
    out = []
    for path in sorted(recipes_dir.glob("*.toml")):
        try:
            name = parse_recipe(path.read_text(encoding="utf-8"), source=path.name).name
        except (ConfigError, OSError, UnicodeDecodeError):
            name = f"{path.stem} (does not pass the checks)"
        out.append({"file": path.name, "name": name})
    return out


def check_text(text: str, source: str) -> Draft:
    """Parse, validate and plan recipe text the way `check_recipe_file` does for a file."""
    recipe = parse_recipe(text, source=source)
    report = check_recipe(recipe, None)
    if not report.ok:
        raise RecipeError(source, report.errors)
    return Draft(uuid.uuid4().hex, source, text, recipe.name,
                 plan_recipe(recipe, None).to_dict(), report.warnings)


def _from_library(file_name: str) -> Draft:
    recipes_dir = web_config().recipes_dir
    names = {r["file"] for r in library(recipes_dir)}
    if recipes_dir is None or file_name not in names:
        raise ConfigError(f"no recipe {file_name!r} in the library")
    checked = check_recipe_file(recipes_dir / file_name)
    return Draft(uuid.uuid4().hex, file_name, checked.text, checked.recipe.name,
                 plan_recipe(checked.recipe, None).to_dict(), checked.warnings)


def _from_upload() -> Draft | None:
    upload = request.files.get("upload")
    if upload is None or not upload.filename:
        return None
    raw = upload.read(MAX_COMMAND_BYTES + 1)
    if len(raw) > MAX_COMMAND_BYTES:
        raise ConfigError(f"{upload.filename}: larger than {MAX_COMMAND_BYTES // 1024} kB; a "
                          "recipe is a few kB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{upload.filename}: not a UTF-8 text file") from None
    return check_text(text, Path(upload.filename).name)


def _choose(press_id: str, problems: list[str] | None = None, source: str = "",
            status: int = 200) -> tuple[str, int]:
    return render_template("start.html", stage="choose", press_id=press_id,
                           library=library(web_config().recipes_dir), problems=problems or [],
                           source=source, press=_press(press_id)), status


def _review(press_id: str, draft: Draft, form: dict[str, str], error: str = "",
            status: int = 200) -> tuple[str, int]:
    return render_template("start.html", stage="review", press_id=press_id, draft=draft,
                           rows=_plan_rows(draft.plan), total=hms(draft.plan.get("total_s")),
                           form=form, error=error, press=_press(press_id)), status


def _press(press_id: str) -> dict[str, Any]:
    return present.summary(user().press(press_id))


def _plan_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for s in plan.get("steps") or []:
        temps = s.get("temps_c") or {}
        temp = ", ".join(f"{z}: {t:g}" if z != "all" else f"{t:g}" for z, t in temps.items())
        rows.append({"n": s["index"] + 1, "kind": s["kind"], "label": s["label"],
                     "temp": temp or "-", "mpa": f"{s['pressure_mpa']:.1f}",
                     "kn": f"{s['force_kn']:.2f}", "time": hms(s["duration_s"]),
                     "end": hms(s["end_s"]), "ends_on": s["ends_on"]})
    return rows


@bp.route("/press/<press_id>/start")
def choose(press_id: str) -> tuple[str, int]:
    """Step 1: pick a recipe from the library or upload one."""
    return _choose(check_press_id(press_id))


@bp.route("/press/<press_id>/start/check", methods=["POST"])
def check(press_id: str) -> tuple[str, int]:
    """Check the chosen or uploaded recipe; show the plan, or every problem found."""
    check_press_id(press_id)
    source = request.form.get("library", "")
    try:
        draft = _from_upload() or (_from_library(source) if source else None)
    except RecipeError as exc:
        return _choose(press_id, list(exc.problems), exc.source, 422)
    except ConfigError as exc:
        return _choose(press_id, [str(exc)], source, 422)
    if draft is None:
        return _choose(press_id, ["choose a recipe from the library or upload a .toml file"],
                       status=422)
    user().keep_draft(draft.draft_id, draft)
    form = {"sample_id": "", "operator": user().username, "command_id": uuid.uuid4().hex}
    return _review(press_id, draft, form)


def form_problem(sample_id: str, operator: str) -> str:
    """Why the start form cannot be sent as filled in, or ''."""
    if not SAMPLE_ID.fullmatch(sample_id):
        shown = sample_id if len(sample_id) <= 40 else sample_id[:40] + "..."
        return (f"Sample id '{shown}' refused: {SAMPLE_RULE}." if sample_id
                else f"Enter a sample id: {SAMPLE_RULE}.")
    if not operator or len(operator) > OPERATOR_MAX_CHARS or not operator.isprintable():
        return f"Enter who runs it (1 to {OPERATOR_MAX_CHARS} printable characters)."
    return ""


@bp.route("/press/<press_id>/start/run", methods=["POST"])
def run(press_id: str) -> Response | tuple[str, int]:
    """Step 2: send `start` once for this form; on success go to the press's live page."""
    check_press_id(press_id)
    draft = user().drafts.get(request.form.get("draft", ""))
    if draft is None:
        return _choose(press_id, ["the checked recipe has expired: choose and check it again"],
                       status=409)
    form = {"sample_id": request.form.get("sample_id", "").strip(),
            "operator": request.form.get("operator", "").strip(),
            "command_id": request.form.get("command_id", "")}
    problem = form_problem(form["sample_id"], form["operator"])
    if problem:
        return _review(press_id, draft, form, problem, 422)
    args = {"recipe_toml": draft.text, "sample_id": form["sample_id"],
            "operator": form["operator"]}
    outcome = user().send(press_id, "start", args, form["command_id"])
    if outcome.ok or outcome.kind == "pending":
        run_id = outcome.data.get("run_id") or ""
        return redirect(url_for("live.press", press_id=press_id, started=run_id or None))
    if outcome.kind not in ("offline", "invalid"):
        form = {**form, "command_id": uuid.uuid4().hex}  # that id has had its answer
    return _review(press_id, draft, form, outcome.message, 409)
