"""The README and docs/ link only to files that exist, inside the repository."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")  # [text](target)


def _local_targets(doc: Path) -> list[str]:
    """The link targets that name a file of ours: no scheme (https:, mailto:), no bare anchor."""
    targets = LINK.findall(doc.read_text())
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and t[0] != "#"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_link_names_a_file_of_the_repository(doc):
    broken = []
    for target in _local_targets(doc):
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists() or not path.is_relative_to(ROOT):
            broken.append(target)
    assert not broken, f"{doc.name} links to files that do not exist here: {broken}"


def test_the_check_sees_links_at_all():
    assert "docs/async.md" in _local_targets(ROOT / "README.md")
