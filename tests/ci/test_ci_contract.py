"""docs/contracts.md's CI section states what the code does: the record's tag names, the log's caps,
the run's time limit."""

from pathlib import Path

from wth.ci import engine, records

CONTRACTS = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
SECTION = CONTRACTS[CONTRACTS.index("## CI on the offline path"):]


def test_every_tag_of_a_record_is_in_the_contract():
    tags = [value for name, value in vars(records).items() if isinstance(value, str) and value.startswith(records.PREFIX)
            and name.isupper() and value != records.PREFIX]
    assert len(tags) >= 12
    for tag in tags:
        assert f"`{tag}`" in SECTION, tag
    assert f"`{records.LOG_ARTIFACT}`" in SECTION


def test_the_log_caps_and_the_time_limit_are_the_codes():
    assert f"its first {engine.LOG_HEAD // 2**20} MiB and last {engine.LOG_TAIL // 2**10} KiB" in SECTION
    assert engine.RUN_TIMEOUT_S == 3600 and "stopped after an hour" in SECTION


def test_the_graders_readme_states_its_ci_limits():
    from grader.probes import ci, git

    readme = " ".join((Path(__file__).resolve().parents[2] / "grader" / "README.md").read_text().split())
    assert f"its last {git.HISTORY_DEPTH} commits" in readme
    assert f"at most {ci.MAX_LOG_BYTES // 2**20} MiB (`grader.probes.ci.MAX_LOG_BYTES`)" in readme
