"""The documentation holds together: README's quickstart commands are the ones docs/quickstart.md explains,
and every relative link in README.md and docs/*.md points at a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
QUICKSTART = ROOT / "docs" / "quickstart.md"
DOCS = sorted([README, *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"`[^`]*`")
_SHELL_COMMENT = re.compile(r"\s+#\s.*$")


def split_fences(text: str) -> tuple[list[str], list[list[str]]]:
    """The prose lines (outside fenced code) and each fenced block's lines."""
    prose: list[str] = []
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
            continue
        if current is None:
            prose.append(line)
        else:
            current.append(line)
    return prose, blocks


def section(text: str, heading: str) -> str:
    """The body of the level-2 section ``## heading`` (up to the next level-2 heading)."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {heading}' section"
    return match.group(1)


def commands(block: list[str]) -> list[str]:
    """Command lines of a shell block: comments and blank lines dropped, trailing comments cut."""
    found = []
    for line in block:
        line = _SHELL_COMMENT.sub("", line).strip()
        if line and not line.startswith("#"):
            found.append(line)
    return found


def shell_commands(text: str) -> list[str]:
    _, blocks = split_fences(text)
    return [cmd for block in blocks for cmd in commands(block)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for line in prose:
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    links = []
    for line in prose:
        for target in _LINK.findall(_INLINE_CODE.sub("", line)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:, …
                links.append(target)
    return links


def test_readme_quickstart_commands_are_explained_in_docs_quickstart() -> None:
    readme = shell_commands(section(README.read_text(encoding="utf-8"), "Quickstart"))
    explained = set(shell_commands(QUICKSTART.read_text(encoding="utf-8")))
    assert readme, "README's Quickstart section has no commands"
    missing = [cmd for cmd in readme if cmd not in explained]
    assert not missing, f"README quickstart commands that docs/quickstart.md does not show: {missing}"


def test_readme_quickstart_links_to_docs_quickstart() -> None:
    assert "docs/quickstart.md" in relative_links(README) and "docs/quickstart.md" in section(
        README.read_text(encoding="utf-8"), "Quickstart"
    )


def test_readme_first_command_is_the_demo() -> None:
    assert (ROOT / "scripts" / "demo.sh").is_file()
    assert shell_commands(README.read_text(encoding="utf-8"))[0] == "bash scripts/demo.sh"


def test_docs_index_lists_every_doc() -> None:
    index = ROOT / "docs" / "README.md"
    listed = {target.split("#")[0] for target in relative_links(index)}
    unlisted = [p.name for p in DOCS if p.parent.name == "docs" and p != index and p.name not in listed]
    assert not unlisted, f"docs/README.md does not list: {unlisted}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in relative_links(doc):
        file_part, _, fragment = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{fragment}")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links: {broken}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("1. The local demo (no Kubernetes, no database)", "1-the-local-demo-no-kubernetes-no-database"),
        ("3. Without Kubernetes: `olapsink-worker` by hand", "3-without-kubernetes-olapsink-worker-by-hand"),
        ("Set-up", "set-up"),
    ],
)
def test_slug_matches_github_anchors(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_link_checker_sees_links_outside_code_only(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "See [a](a.md#top) and [web](https://example.com).\n```sh\n[b](b.md)\n```\n`[c](c.md)`\n",
        encoding="utf-8",
    )
    assert relative_links(doc) == ["a.md#top"]
