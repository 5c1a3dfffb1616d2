"""The documents keep their promises: relative links and anchors resolve, every wth-solution /
wth-grader command shown parses with the real CLI, every path named in backticks exists, and every
grader check id is a success criterion of exactly one Student challenge (and no other id is cited)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docs_tools import REPO_ROOT, commands_in, parse_error


def is_project_doc(path: Path) -> bool:
    """Markdown of the project: not in virtual environments, workspaces, caches or build output."""
    folders = path.relative_to(REPO_ROOT).parts[:-1]
    return not any((part.startswith(".") and part not in (".github", ".pipelines"))
                   or part in ("node_modules", "site-packages", "build", "dist") or part.endswith(".egg-info")
                   for part in folders)


DOCS = sorted(p for p in REPO_ROOT.rglob("*.md") if is_project_doc(p))
KIT_README = REPO_ROOT / "kit" / "README.md"  # the student kit's root README: its links are relative to that root
STUDENT = REPO_ROOT / "Student"
CHALLENGES = sorted(STUDENT.glob("Challenge-*.md"))
TEAM_MD_IDS = ["C0.1", "C0.2", "C1.1", "C1.2", "C1.3", "C2.1", "C2.2", "C2.3", "C2.4", "C2.5", "C2.6",
               "C3.1", "C3.2", "C3.3", "C3.4", "C3.5", "C3.6", "C4.1", "C4.2", "C4.3", "C4.4",
               "C5.1", "C5.2", "C5.3", "C5.4"]
CHECK_ID = re.compile(r"\bC[0-5]\.\d+\b")
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)


def rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def prose(text: str) -> str:
    """The Markdown without its fenced code blocks."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation out, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*_]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose(path.read_text()), flags=re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        out.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return out


def links(path: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", prose(path.read_text()))
    return re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_relative_links_and_anchors_resolve(path):
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        folder = REPO_ROOT if path == KIT_README else path.parent
        destination = (folder / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{rel(path)}: " + "; ".join(broken)


def shown_commands(path: Path) -> list[list[str]]:
    """Commands in fenced blocks and in inline code spans; a bare program name is a mention, not a
    command. A `<placeholder>` becomes `1` (a valid string and integer); in a usage synopsis,
    `[optional]` groups are dropped and `a|b` alternatives are read as their first one."""
    text = path.read_text()
    snippets = [m.group(0) for m in FENCE.finditer(text) if not m.group(0).startswith("```mermaid")]
    snippets += re.findall(r"`([^`\n]+)`", prose(text))
    commands = []
    for snippet in snippets:
        snippet = re.sub(r"<[^<>\n]+>", "1", snippet.replace("\\|", "|"))  # `\|` in a table cell
        snippet = re.sub(r"\[[^\[\]\n]*\]", "", snippet)
        snippet = re.sub(r"(?<=\s)([\w-]+)(?:\|[\w-]+)+", r"\1", snippet)
        commands += [argv for argv in commands_in(snippet) if len(argv) > 1]
    return commands


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_command_shown_parses_with_the_real_cli(path):
    problems = []
    for argv in shown_commands(path):
        error = parse_error(argv)
        if error and len(argv) == 2 and "arguments are required" in error:
            continue  # `wth check` in prose names a subcommand; it is not a command line
        if error:
            problems.append(f"`{' '.join(argv)}`: {error}")
    assert not problems, f"{rel(path)}: " + "; ".join(problems)


REPO_PATH = re.compile(r"^(?:wth|solution|grader|resources|kit|docs|\.pipelines|\.github|Student|Coach|tests|bench)/[\w./-]*$")


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_repository_path_named_exists(path):
    named = {span for span in re.findall(r"`([^`\n]+)`", prose(path.read_text())) if REPO_PATH.match(span)}
    missing = sorted(p for p in named if not (REPO_ROOT / p).exists())
    assert not missing, f"{rel(path)} names files that do not exist: {missing}"


@pytest.fixture(scope="module")
def check_ids() -> list[str]:
    """The ids `wth-grader checks --json` lists (the real grader)."""
    wth_grader = Path(sys.executable).with_name("wth-grader")
    done = subprocess.run([str(wth_grader), "checks", "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [entry["id"] for entry in json.loads(done.stdout)]


def test_the_grader_lists_the_ids_agreed_in_the_team_notes(check_ids):
    assert sorted(check_ids) == sorted(TEAM_MD_IDS)


def cited(path: Path) -> list[str]:
    return CHECK_ID.findall(path.read_text())


def test_every_check_is_a_criterion_of_exactly_one_challenge(check_ids):
    assert [p.name for p in CHALLENGES] == [f"Challenge-{n:02d}.md" for n in range(6)]
    for check_id in check_ids:
        holders = [p.name for p in CHALLENGES if check_id in cited(p)]
        challenge = int(check_id[1])
        assert holders == [f"Challenge-{challenge:02d}.md"], f"{check_id} is cited in {holders}"
        section = re.search(r"^## Success Criteria$(.*?)^## ", (STUDENT / holders[0]).read_text(), re.M | re.S)
        assert re.search(rf"^- \*\*{re.escape(check_id)}\*\* ", section.group(1), re.M), \
            f"{check_id} is not a success criterion line in {holders[0]}"


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_cited_check_id_exists(check_ids, path):
    unknown = sorted(set(cited(path)) - set(check_ids))
    assert not unknown, f"{rel(path)} cites check ids the grader does not have: {unknown}"


def test_every_grader_hint_points_to_a_heading():
    from grader.checks import all_checks

    for check in all_checks():
        file_part, _, anchor = check.hint.partition("#")
        assert anchor in anchors(REPO_ROOT / file_part), f"{check.id}: hint {check.hint} has no heading"


def test_each_challenge_has_the_sections_and_its_progress_command():
    sections = ["Introduction", "Description", "Success Criteria", "Tips", "Learning Resources",
                "Check your progress"]
    for n, path in enumerate(CHALLENGES):
        text = path.read_text()
        assert re.findall(r"^## (.+)$", text, flags=re.M) == sections, path.name
        expected = f'wth check --config teams.yaml --team "$TEAM" --challenge {n}'
        assert expected in text.split("## Check your progress")[1], path.name


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_make_target_shown_exists(path):
    targets = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), flags=re.M))
    text = path.read_text()
    shown = re.findall(r"`make ([\w-]+)`", text)
    blocks = [fence.group(0) for fence in FENCE.finditer(text)]
    shown += [m for block in blocks for m in re.findall(r"^\s*make ([\w-]+)", block, re.M)]
    assert not set(shown) - targets, f"{rel(path)} shows make targets the Makefile lacks: {set(shown) - targets}"


def test_the_model_docs_state_the_calibrations_numbers():
    """The README's and Solution-01's account of the intervals: origins, their spacing, the recency weights."""
    from solution.evaluate import CALIBRATION_ORIGINS, MIXTURE_CALIBRATION_ORIGINS
    from solution.forecast import AMOUNT_HALF_LIFE_WEEKS
    from wth.config import SEASON

    words = {8: "eight"}
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    for origins in (MIXTURE_CALIBRATION_ORIGINS, CALIBRATION_ORIGINS):
        assert f"at {origins} origins {SEASON}, {2 * SEASON}, .. {origins * SEASON} days before the training end" in readme
    assert f"halving every {AMOUNT_HALF_LIFE_WEEKS} weeks back" in readme
    solution = " ".join((REPO_ROOT / "Coach" / "Solution-01.md").read_text().split())
    assert f"at {MIXTURE_CALIBRATION_ORIGINS} origins a week apart" in solution
    assert f"halving every {words[AMOUNT_HALF_LIFE_WEEKS]} weeks back" in solution


def test_the_readme_states_the_suites_cost_as_bench_measured_it():
    """`make test`'s figures in the README are bench/results/suite.json's (bench/suite.py, a fresh clone)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_suite", REPO_ROOT / "bench" / "suite.py")  # bench/ is no package
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    measured = json.loads(suite.RESULTS.read_text())
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    minutes, seconds = divmod(round(measured["wall_s"]), 60)
    counts = re.sub(r"\d{4,}", lambda m: f"{int(m.group()):,}", measured["outcome"].split(", ")[0])  # "1,060 passed"
    stated = [f"{measured['measured_at'][:10]} {measured['measured_at'][11:16]} UTC",
              f"load average {measured['load_average_at_start'][0]:.1f} at its start",
              f"**{minutes} min {seconds} s** in all", counts,
              f"user+sys CPU **{measured['user_sys_s']:,.0f} s**", f"**{measured['whole_run_cpu_s']:,.0f} s** counted in a cgroup",
              f"the {suite.TARGET_WALL_S // 60}-minute budget", f"its {suite.TARGET_CPU_S} s of CPU"]
    assert measured["exit_code"] == 0, measured["outcome"]
    assert [fact for fact in stated if fact not in readme] == []
