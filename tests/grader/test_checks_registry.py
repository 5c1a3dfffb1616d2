"""The check list: ids as the Student challenges list them, every hint pointing at a real section of the Student doc
that cites the check, and `wth-grader checks --json` in the contract's shape."""

from __future__ import annotations

import json
import re

from grader_tools import REPO_ROOT, run_cli

from grader.checks import all_checks
from grader.testdata import CORRUPTIONS
from wth import contract

TEAM_IDS = ("C0.1 C0.2 C1.1 C1.2 C1.3 C2.1 C2.2 C2.3 C2.4 C2.5 C2.6 C3.1 C3.2 C3.3 C3.4 C3.5 C3.6 "
            "C4.1 C4.2 C4.3 C4.4 C5.1 C5.2 C5.3 C5.4").split()


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_ids_are_the_agreed_ones_in_dependency_order():
    checks = all_checks()
    assert [c.id for c in checks] == TEAM_IDS
    seen = set()
    for c in checks:
        assert set(c.depends) <= seen, c.id
        seen.add(c.id)


def test_every_hint_points_at_a_section_of_the_doc_citing_the_check():
    for c in all_checks():
        path, anchor = c.hint.split("#")
        doc = (REPO_ROOT / path).read_text()
        anchors = {_slug(line.lstrip("#")) for line in doc.splitlines() if line.startswith("#")}
        assert anchor in anchors, c.hint
        assert f"**{c.id}**" in doc, f"{c.id} is not cited in {path}"


def test_checks_json_shape():
    done = run_cli("checks", "--json")
    assert done.returncode == 0
    listed = json.loads(done.stdout)
    assert [set(item) for item in listed] == [{"id", "challenge", "title", "points"}] * len(TEAM_IDS)
    assert [item["id"] for item in listed] == TEAM_IDS and listed[14]["challenge"] == 3


def test_the_readmes_counts_are_the_codes():
    """grader/README.md's table says how many bad requests C3.3 sends and how many corrupted files C2.3 tries, with
    what: the numbers of `wth.contract.BAD_INPUTS` and `grader.testdata.CORRUPTIONS`."""
    readme = (REPO_ROOT / "grader" / "README.md").read_text()
    rows = {row.split(" | ")[0].strip("| "): row for row in readme.splitlines() if re.match(r"\| C\d\.\d \|", row)}
    labels = ", ".join(bad.label for bad in contract.BAD_INPUTS)
    assert f"| {len(contract.BAD_INPUTS)} bad requests ({labels}: `wth.contract.BAD_INPUTS`" in rows["C3.3"]
    assert f"each of {len(CORRUPTIONS)} corrupted copies" in rows["C2.3"] and f"runs it {len(CORRUPTIONS)} times" in rows["C2.3"]
