"""Comments and docs cite only what is in this repository.

A reference to design notes outside the repository cannot be followed by a new
contributor, so the source and docs may cite ``docs/DESIGN.md §N`` (and that section must
exist) but never the team's notes beside the checkout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the fixtures' SOURCES.md name where each payload came from: paths in other repositories
ORIGINS = {"tests/fixtures/channels/SOURCES.md", "tests/fixtures/payments/SOURCES.md"}
SELF = "tests/test_doc_references.py"  # its own examples below
EXTENSIONS = (".py", ".md", ".txt", ".yml", ".yaml", ".mmd")
OUTSIDE = re.compile(r"\.\./shared|(?<![\w/])reference/\w+\.md|(?<![\w/.])"
                     r"(?:channels|payments|style)\.md|(?<![\w/])DESIGN \d")
SECTION = re.compile(r"docs/DESIGN\.md §(\d+(?:a|\.\d+)?)")
HEADING = re.compile(r"^#{2,3} (\d+(?:a|\.\d+)?)\.? ", re.MULTILINE)


def _texts() -> dict[str, str]:
    out = {}
    for folder, dirs, files in os.walk(ROOT):
        # .venv, .git, caches and build output are not ours
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"
                   and not d.endswith(".egg-info")]
        for file in files:
            name = (Path(folder) / file).relative_to(ROOT).as_posix()
            if name in ORIGINS or name == SELF or not file.endswith(EXTENSIONS):
                continue
            out[name] = (ROOT / name).read_text(encoding="utf-8", errors="replace")
    return out


def outside_references(texts: dict[str, str]) -> list[str]:
    return [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for name, text in texts.items()
            for m in OUTSIDE.finditer(text)]


def missing_sections(texts: dict[str, str], design: str) -> list[str]:
    sections = set(HEADING.findall(design))
    return [f"{name}: §{m.group(1)}" for name, text in texts.items()
            for m in SECTION.finditer(text) if m.group(1) not in sections]


def test_no_reference_points_outside_the_repository() -> None:
    assert outside_references(_texts()) == []


def test_every_cited_design_section_exists() -> None:
    design = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    assert missing_sections(_texts(), design) == []


def test_the_checks_catch_a_stray_reference() -> None:
    texts = {"a.py": "# see DESIGN 4a\n# and reference/payments.md §7\n",
             "b.md": "as in ../shared/DESIGN.md, docs/DESIGN.md §5.4, docs/DESIGN.md §9.9"}
    assert outside_references(texts) == [
        "a.py:1: DESIGN 4", "a.py:2: reference/payments.md", "b.md:1: ../shared"]
    assert missing_sections(texts, "## 5. Facts\n### 5.4 Signatures\n") == ["b.md: §9.9"]
