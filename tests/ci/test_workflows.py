"""What triggers a workflow, read as GitHub reads it (wth.ci.workflows)."""

import pytest

from wth.ci import workflows

BUILD = b"""
name: build
on:
  push:
    branches: [main, "release/*"]
  workflow_dispatch:
    inputs:
      note: {default: hi}
      flag: {type: boolean, default: false}
jobs:
  test: {runs-on: self-hosted, steps: [{run: pytest}]}
"""


def test_push_filters_and_dispatch_inputs():
    workflow = workflows.parse(".github/workflows/build.yml", BUILD)
    assert workflow.error is None and workflow.name == "build" and workflow.file == "build.yml"
    assert workflow.runs_on_push("main") and workflow.runs_on_push("release/1.0")
    assert not workflow.runs_on_push("feature")
    assert workflow.inputs == {"note": {"default": "hi"}, "flag": {"type": "boolean", "default": False}}


@pytest.mark.parametrize("on, branch, runs", [
    ("push", "any", True),
    ("[push, pull_request]", "any", True),
    ("{push: {branches-ignore: [wip]}}", "wip", False),
    ("{push: {branches-ignore: [wip]}}", "main", True),
    ("{push: {tags: ['v*']}}", "main", False),
    ("workflow_dispatch", "main", False),
])
def test_push_triggers(on, branch, runs):
    text = f"on: {on}\njobs: {{a: {{runs-on: x, steps: [{{run: x}}]}}}}\n".encode()
    assert workflows.parse(".github/workflows/w.yml", text).runs_on_push(branch) is runs


@pytest.mark.parametrize("on, changed, runs", [
    ("{push: {paths-ignore: ['Student/**', 'Coach/**']}}", ["Student/Challenge-02.md"], False),
    ("{push: {paths-ignore: ['Student/**', 'Coach/**']}}", ["Student/Challenge-02.md", "src/train.py"], True),
    ("{push: {paths: ['src/**', '**/*.yml']}}", ["README.md"], False),
    ("{push: {paths: ['src/**', '**/*.yml']}}", [".github/workflows/build.yml"], True),
    ("{push: {paths: ['src/*']}}", ["src/deep/train.py"], False),
    ("{push: {paths: ['src/**']}}", None, True),  # a new branch: every file is new
])
def test_path_filters_read_the_files_a_push_changed(on, changed, runs):
    text = f"on: {on}\njobs: {{a: {{runs-on: x, steps: [{{run: x}}]}}}}\n".encode()
    assert workflows.parse(".github/workflows/w.yml", text).runs_on_push("main", changed) is runs


def test_schedules_are_validated():
    good = workflows.parse(".github/workflows/d.yml", b"on: {schedule: [{cron: '0 6 * * *'}]}\njobs: {a: {}}\n")
    assert good.error is None and good.crons == ["0 6 * * *"]
    for cron, said in (("0 6 * *", "five fields"), ("61 6 * * *", "not a valid cron")):
        bad = workflows.parse(".github/workflows/d.yml", f"on: {{schedule: [{{cron: '{cron}'}}]}}\njobs: {{a: {{}}}}\n".encode())
        assert bad.error and said in bad.error and not bad.runs_on_push("main")


@pytest.mark.parametrize("text, said", [
    (b"on: [push\n", "not valid YAML"),
    (b"- a list\n", "no jobs"),
    (b"jobs: {a: {}}\n", "no `on:`"),
    (b"on: push\njobs: {a: {}}\n" + b"#" * (workflows.MAX_BYTES + 1), "larger than"),
])
def test_a_broken_file_says_why_and_never_runs(text, said):
    workflow = workflows.parse(".github/workflows/x.yml", text)
    assert said in workflow.error and not workflow.runs_on_push("main")


def test_only_files_directly_in_the_workflows_folder_are_workflows():
    assert workflows.is_workflow_path(".github/workflows/build.yml")
    assert workflows.is_workflow_path(".github/workflows/build.yaml")
    assert not workflows.is_workflow_path(".github/workflows/sub/build.yml")
    assert not workflows.is_workflow_path(".pipelines/build.yml")
