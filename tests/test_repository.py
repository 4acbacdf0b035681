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
