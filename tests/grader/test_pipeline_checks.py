"""C2.4 and C5.4 read what a pipeline's steps execute (templates expanded with their parameters, the
repository's shell scripts followed): the team's own tests, training, registration and drift code,
files of its repository or console commands it defines. Never a word in an `echo`, a comment or a
display name. Real files in real git repositories, real YAML; the coach's reference pipelines are
graded in the coach's repository, the one repository that defines `wth-solution`. What the files define
is read here; that a CI run ran them, as both checks also want offline, is tests/ci's."""

from __future__ import annotations

import shutil

import pytest
import yaml
from grader_tools import REPO_ROOT, grade_one, write_repo

from grader.checks import FAIL, PASS
from grader.checks.c2 import covers, definitions
from grader.checks.c5 import scheduled_definitions
from grader.probes import pipelines
from grader.probes.commands import RepoCode, split

TESTS = {"tests/test_data.py": "def test_rows():\n    assert len([1, 2]) == 2\n"}
SCRIPTS = {"src/train.py": "# trains the team's model\n", "src/register.py": "# registers it\n"}
SCHEDULE = [{"cron": "0 6 * * *", "branches": {"include": ["main"]}, "always": True}]


def _first(found):
    """The outcome of what the files define: the first complete definition, else the failure."""
    complete, failure = found
    return failure or complete[0]


def _c24(repo):
    """C2.4's reading of the pipeline files (offline, the check also wants a CI run of the file: tests/ci)."""
    return _first(definitions(repo))


def _c54(repo):
    """C5.4's reading of the pipeline files (offline, the check also wants a CI run that recorded drift: tests/ci)."""
    return _first(scheduled_definitions(repo))


def test_a_pipeline_of_echo_steps_fails_c2_4_naming_what_is_missing(tmp_path):
    pipeline = """\
# python -m pytest && python src/train.py && python src/register.py
steps:
  - script: echo "pytest train register"  # python src/train.py
    displayName: python -m pytest; python src/train.py; python src/register.py
  - bash: |
      echo python src/register.py
      printf 'pytest\\n'
"""
    repo = write_repo(tmp_path / "echo", {**TESTS, **SCRIPTS, "azure-pipelines.yml": pipeline})
    result = _c24(repo)
    assert result.status == FAIL
    assert result.evidence["found"] == {"tests": None, "train": None, "register": None}
    assert "the closest, azure-pipelines.yml, lacks: tests (a step running pytest" in result.message
    assert "; training (a step running your training script" in result.message
    assert "; registration (a step running your registration script" in result.message
    assert '`echo pytest train register` (echo prints, it runs nothing)' in result.message


def test_one_build_module_counts_by_what_its_code_calls_not_by_its_name(tmp_path):
    """`python -m forecasting.build` trains and registers when its code does: it imports, at its top level,
    the team's module that logs the model and registers it (`mlflow.register_model`). The same step
    running a module that only prints counts for neither."""
    pipeline = {"steps": [{"script": "python -m pytest tests"}, {"script": "python -m forecasting.build --source x.csv"}]}
    package = {"forecasting/__init__.py": "",
               "forecasting/build.py": "from .train import fit_and_log\n\n\ndef main():\n    fit_and_log()\n",
               "forecasting/train.py": ("import mlflow\n\n\ndef fit_and_log():\n"
                                        "    info = mlflow.pyfunc.log_model(name='model', python_model=None)\n"
                                        "    mlflow.register_model(info.model_uri, 'transactions-forecast')\n")}
    repo = write_repo(tmp_path / "calls", {**TESTS, **package, "azure-pipelines.yml": pipeline})
    result = _c24(repo)
    assert result.status == PASS, result.message
    assert result.evidence["found"] == {"tests": "python -m pytest tests", "train": "forecasting/build.py",
                                        "register": "forecasting/build.py"}
    printing = {**package, "forecasting/build.py": "def main():\n    print('trained and registered')\n"}
    repo = write_repo(tmp_path / "prints", {**TESTS, **printing, "azure-pipelines.yml": pipeline})
    result = _c24(repo)
    assert result.status == FAIL and result.evidence["found"]["train"] is None and result.evidence["found"]["register"] is None


def test_a_pipeline_running_a_training_script_that_does_not_exist_fails_c2_4(tmp_path):
    pipeline = {"steps": [{"script": "python -m pytest -q"}, {"script": "python train.py && python src/register.py"}]}
    repo = write_repo(tmp_path / "missing", {**TESTS, "src/register.py": SCRIPTS["src/register.py"],
                                             "azure-pipelines.yml": pipeline})
    result = _c24(repo)
    assert result.status == FAIL
    assert result.evidence["found"] == {"tests": "python -m pytest -q", "train": None, "register": "src/register.py"}
    assert "lacks: training (" in result.message and "registration" not in result.message.split("lacks:")[1]
    assert "`python train.py` (train.py is not a file of your repository)" in result.message


TEMPLATED = {  # a team's build split into templates, MLOpsPython-style
    ".pipelines/build.yml": {"trigger": ["main"], "stages": [
        {"stage": "test", "jobs": [{"job": "test", "steps": [
            {"template": "templates/tests.yml", "parameters": {"paths": "tests"}}]}]},
        {"stage": "train", "dependsOn": "test", "jobs": [{"job": "train", "steps": [
            {"template": "templates/step.yml", "parameters": {"command": "python src/train.py --data data.csv"}},
            {"template": "templates/step.yml", "parameters": {"command": "bash scripts/register.sh"}}]}]}]},
    ".pipelines/templates/tests.yml": {"parameters": [{"name": "paths", "type": "string", "default": "."}], "steps": [
        {"script": "python -m pytest ${{ parameters.paths }} --junitxml=$(Common.TestResultsDirectory)/junit.xml",
         "displayName": "Unit tests"},
        {"task": "PublishTestResults@2", "inputs": {"testResultsFiles": "$(Common.TestResultsDirectory)/junit.xml"}}]},
    ".pipelines/templates/step.yml": {"parameters": [{"name": "command", "type": "string"}],
                                      "steps": [{"script": "${{ parameters.command }}"}]},
    "scripts/register.sh": ("set -euo pipefail\n# the registered version is tagged with its lineage\n"
                            "python -m src.register --name forecast\n"),
}


def test_a_real_team_pipeline_split_into_templates_passes_c2_4(tmp_path):
    repo = write_repo(tmp_path / "templated", {**TESTS, **SCRIPTS, **TEMPLATED})
    result = _c24(repo)
    assert result.status == PASS, result.message
    found = result.evidence["found"]
    assert found["tests"].startswith("python -m pytest tests --junitxml=") and found["train"] == "src/train.py"
    assert found["register"] == "src/register.py"  # run by scripts/register.sh
    assert result.evidence["templates"] == [".pipelines/templates/tests.yml", ".pipelines/templates/step.yml"]
    assert result.evidence["test_results_published"] is True
    workflow = {"name": "ci", "on": {"push": {"branches": ["main"]}}, "jobs": {
        "test": {"runs-on": "ubuntu-latest", "steps": [{"uses": "actions/checkout@v4"}, {"run": "pytest"}]},
        "train": {"needs": "test", "runs-on": "ubuntu-latest", "steps": [
            {"run": "cd $GITHUB_WORKSPACE\npython ./src/train.py\npython src/register.py --alias champion"}]}}}
    github = write_repo(tmp_path / "github", {**TESTS, **SCRIPTS, ".github/workflows/ci.yml": workflow})
    assert _c24(github).status == PASS


def test_wth_solution_counts_only_in_the_repository_that_defines_it(tmp_path):
    """A team that copies the reference pipelines runs a command it does not have; the coach's
    repository defines it (setup.cfg's console_scripts, its module solution/cli.py in the repository)."""
    team = tmp_path / "copied"
    shutil.copytree(REPO_ROOT / ".pipelines", team / ".pipelines")
    repo = write_repo(team, {"tests/solution/test_data.py": TESTS["tests/test_data.py"]})
    result = _c24(repo)
    assert result.status == FAIL and result.evidence["found"]["tests"] and not result.evidence["found"]["train"]
    assert "wth-solution is neither a script of your repository nor a command it defines" in result.message
    files = pipelines.pipeline_files(REPO_ROOT)
    reference = [f for f in files if f.path.rpartition("/")[2] in ("build.yml", "azureml-build.yml")]
    assert ".pipelines/build.yml" in [f.path for f in reference]
    code = RepoCode(REPO_ROOT)
    for entry in reference:
        found, _ = covers(code, pipelines.expand(REPO_ROOT, files, entry))
        assert found["train"] == found["register"] == "wth-solution pipeline build (solution/cli.py)", entry.path
        assert found["tests"].startswith("python -m pytest tests/solution"), entry.path


def test_a_console_command_the_team_defines_counts_when_its_module_is_in_the_repository(tmp_path):
    pipeline = {"steps": [{"script": "python -m pytest"}, {"script": "forecast pipeline build --data data.csv"}]}
    files = {**TESTS, "azure-pipelines.yml": pipeline,
             "pyproject.toml": '[project]\nname = "team"\n\n[project.scripts]\nforecast = "ourteam.cli:main"\n'}
    missing = _c24(write_repo(tmp_path / "no-module", files))
    assert missing.status == FAIL and "forecast is a command your repository defines, but its module is not in it" in missing.message
    present = _c24(write_repo(tmp_path / "module", {**files, "src/ourteam/cli.py": "def main():\n    pass\n"}))
    assert present.status == PASS and present.evidence["found"]["train"] == "forecast pipeline build (src/ourteam/cli.py)"


def test_c5_4_counts_wth_solution_drift_only_in_the_repository_that_defines_it(tmp_path):
    copied = {".pipelines/drift.yml": {"schedules": SCHEDULE, "steps": [
        {"script": "wth-solution pipeline drift --batch resources/data/batch-clean.csv.gz"}]}}
    result = _c54(write_repo(tmp_path / "copied", copied))
    assert result.status == FAIL and "none of its steps runs a drift check that exists" in result.message
    assert "wth-solution is neither a script of your repository nor a command it defines" in result.message
    reference = _c54(REPO_ROOT)
    assert reference.status == PASS, reference.message
    assert reference.evidence["drift_step"] == "wth-solution pipeline drift (solution/cli.py)"
    nightly = {".github/workflows/drift.yml": {"name": "drift", "on": {"schedule": [{"cron": "0 6 * * *"}]}, "jobs": {
        "drift": {"runs-on": "self-hosted", "steps": [{"run": "bash ops/nightly.sh"}]}}},
        "ops/nightly.sh": "python -m monitoring.drift --batch \"$BATCH\" || exit 3\n", "monitoring/drift.py": "\n"}
    followed = _c54(write_repo(tmp_path / "nightly", nightly))
    assert followed.status == PASS and followed.evidence["drift_step"] == "monitoring/drift.py"


def test_without_a_repository_the_repository_checks_say_so(tmp_path, empty_ws):
    team = grade_one(tmp_path, challenge=2, workspace=str(empty_ws.root))
    for check_id in ("C2.1", "C2.4"):
        result = team.result(check_id)
        assert result.status == FAIL and result.message.startswith("no repository configured for this team yet")


def test_files_linked_from_outside_the_repository_are_not_read(tmp_path):
    """Their text would reach the team's report: a link to a coach's file is no script of the team's."""
    (tmp_path / "coach.sh").write_text("python coach_secret_marker.py\n")
    (tmp_path / "coach.yml").write_text("steps:\n  - script: python coach_secret_marker.py\n")
    repo = write_repo(tmp_path / "linked", {**TESTS, "azure-pipelines.yml": {"steps": [{"script": "bash ops/train.sh"}]}})
    (repo / "ops").mkdir()
    (repo / "ops" / "train.sh").symlink_to(tmp_path / "coach.sh")
    (repo / ".pipelines").mkdir()
    (repo / ".pipelines" / "linked.yml").symlink_to(tmp_path / "coach.yml")
    result = _c24(repo)
    assert result.status == FAIL and "coach_secret_marker" not in result.message + repr(result.evidence)
    assert "`bash ops/train.sh` (ops/train.sh is not a file of your repository)" in result.evidence["not_counted"]
    assert result.evidence["invalid_yaml"] == {".pipelines/linked.yml": "a link to outside the repository"}


def test_shell_text_is_split_as_a_shell_reads_it():
    script = ('export X="a b" && python src/train.py --name "my model" 2>&1 | tee log.txt  # python hidden.py\n'
              "python -m pytest \\\n  tests; echo 'it''s done'\n"
              'python -c "\nprint(1)\n"\n'
              "python $(Build.SourcesDirectory)/src/register.py ${{ parameters.extra }} > out.txt\n")
    assert split(script) == [["export", "X=a b"], ["python", "src/train.py", "--name", "my model"], ["tee", "log.txt"],
                             ["python", "-m", "pytest", "tests"], ["echo", "its done"], ["python", "-c", "\nprint(1)\n"],
                             ["python", "${Build.SourcesDirectory}/src/register.py", "${parameters.extra}"]]


def test_a_template_used_twice_is_expanded_with_each_reference_s_parameters(tmp_path):
    repo = write_repo(tmp_path / "twice", TEMPLATED | {"ci.yml": {"steps": [{"template": "nowhere.yml"}]}})
    files = pipelines.pipeline_files(repo)
    build = next(f for f in files if f.path == ".pipelines/build.yml")
    expanded = pipelines.expand(repo, files, build)
    assert [s.script for s in expanded.steps if s.file.endswith("step.yml")] == [
        "python src/train.py --data data.csv", "bash scripts/register.sh"]
    assert expanded.problems == []
    missing = pipelines.expand(repo, files, pipelines.read(repo, repo / "ci.yml"))
    assert missing.steps == [] and missing.problems == ["nowhere.yml (in ci.yml) is not a readable file of the repository"]


def test_a_pipeline_that_expands_without_end_is_cut_short(tmp_path):
    levels = ['a0: &a0 ["python src/train.py"]'] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tmp_path / "azure-pipelines.yml").write_text("\n".join(levels) + "\nsteps:\n  - script: python src/train.py\n")
    entry = pipelines.read(tmp_path, tmp_path / "azure-pipelines.yml")
    assert yaml.safe_load(entry.text)["a8"][0][0][0][0][0][0][0][0] == ["python src/train.py"]  # 10^8 leaves
    expanded = pipelines.expand(tmp_path, [entry], entry)
    assert expanded.problems == [f"azure-pipelines.yml: more than {pipelines.MAX_NODES:,} YAML nodes once expanded"]


@pytest.mark.parametrize("words, runs", [
    (["python", "tools/mydrift.py"], "tools/mydrift.py"), (["./tools/mydrift.py", "--x"], "tools/mydrift.py"),
    (["poetry", "run", "python", "-u", "tools/mydrift.py"], "tools/mydrift.py"), (["echo", "tools/mydrift.py"], None),
    (["python", "-c", "import tools.mydrift"], None), (["python", "-m", "tools.mydrift"], "tools/mydrift.py"),
])
def test_what_a_command_runs_is_read_from_its_executed_words(tmp_path, words, runs):
    from grader.checks.c5 import drift_step

    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "mydrift.py").write_text("\n")
    assert drift_step(tmp_path, words) == runs
