"""The repository itself: what is committed, what the README lists, how code speaks."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from detector.worker import DETECTION_OFF_HINT
from events.catalogue import EVENT_TYPES
from projector.readmodels import analytics_projections, postgres_projections

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("events", "ingest", "detector", "projector", "api", "infra", "bench")


def tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()  # fmt: skip


def test_no_server_dump_is_committed() -> None:
    assert not [f for f in tracked() if f.endswith((".rdb", ".aof"))]


def test_docstrings_say_what_and_why_not_which_issue_asked() -> None:
    cited = []
    for path in (p for package in PACKAGES for p in (ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                text = ast.get_docstring(node) or ""
                if re.search(r"\bissue\s*#?\d+|\(#\d+\)", text, re.IGNORECASE):
                    cited.append(str(path.relative_to(ROOT)))
    assert not cited


def test_the_readme_lists_every_event_and_every_projection() -> None:
    readme = (ROOT / "README.md").read_text()
    assert not [name for name in EVENT_TYPES if f"`{name}`" not in readme]
    replay = next(line for line in readme.splitlines() if line.startswith("| `ronin replay"))
    names = [p.name for p in (*postgres_projections(), *analytics_projections())]
    assert not [n for n in names if n not in replay]


def test_the_detection_hint_names_no_path_of_these_build_machines() -> None:
    assert "shared/models" not in DETECTION_OFF_HINT


def test_the_api_talks_to_workers_through_read_models_and_events_only() -> None:
    """No worker's code (nor numpy, onnxruntime, OpenCV) is loaded into the API."""
    code = ("import sys, api.app; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('detector', 'numpy', 'onnxruntime', 'cv2')))")  # fmt: skip
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    assert loaded == "[]"


READ_MODEL_SQL = re.compile(
    r"\b(FROM|JOIN|INTO|UPDATE|COPY)\s+(cameras|recordings|detections|alerts"
    r"|analytics_recordings|analytics_detections)\.\w+",
    re.IGNORECASE,
)


def test_only_a_read_models_own_module_writes_sql_against_its_tables() -> None:
    outside = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for package in ("api", "ingest", "detector", "infra", "events", "projector")
        for path in (ROOT / package).rglob("*.py")
        if "readmodels" not in path.parts
        for match in READ_MODEL_SQL.finditer(path.read_text())
    ]
    assert not outside


def test_nothing_below_infra_imports_infra() -> None:
    upward = []
    for package in ("events", "ingest", "detector", "projector", "api"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                )  # fmt: skip
                upward += [f"{path.relative_to(ROOT)}: {n}" for n in names
                           if n.split(".")[0] == "infra"]  # fmt: skip
    assert not upward


def test_no_ui_page_grows_past_about_120_lines() -> None:
    pages = [*(ROOT / "ui" / "src" / "pages").glob("*.tsx"), ROOT / "ui" / "src" / "App.tsx"]
    long = {p.name: n for p in pages if (n := len(p.read_text().splitlines())) > 125}
    assert not long, f"split these into components and hooks: {long}"


def test_the_readme_links_every_design_note() -> None:
    readme = (ROOT / "README.md").read_text()
    assert not [p.name for p in (ROOT / "docs").glob("*.md") if f"docs/{p.name}" not in readme]
