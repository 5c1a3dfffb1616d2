"""Hand-in: `wth handin` on a team's laptop writes its entry, `wth-grader admit` appends it to the teams file.
Real git (a bare repository over file://), a real HTTP endpoint speaking the contract, the real teams file."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
import yaml
from endpoints import ContractEndpoint

from grader import cli, handin, teams
from solution import forecast
from wth import cli as wth_cli

TEAMS = """\
# the coach's teams file: this comment stays
event: rehearsal
teams:
  - name: bravo   # written by hand
    workspace: .wth
    endpoint: null
    repo: null
grader_dir: .grader
"""


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A bare repository whose HEAD is `trunk` (not `main`), as `git init` makes on some machines."""
    root = tmp_path_factory.mktemp("remote")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "trunk", str(root / "work")], check=True)
    subprocess.run([*git, "-C", str(root / "work"), "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(root / "work"), str(root / "team.git")], check=True)
    return f"file://{root / 'team.git'}"


@pytest.fixture(scope="module")
def endpoint():
    series = pd.Series(range(28), index=pd.date_range("2014-05-04", periods=28), dtype=float)
    served = ContractEndpoint("good", forecast.fit("snaive", series), "1")  # GET answers any path: /health too
    yield served
    served.close()


def _handin(tmp_path, *args: str) -> int:
    return wth_cli.main(["handin", "--out", str(tmp_path / "alpha.yaml"), *args])


def _teams_file(tmp_path, text: str = TEAMS):
    path = tmp_path / "teams.yaml"
    path.write_text(text)
    return path


def _refused(capsys, tmp_path, path, *entries: str) -> str:
    before = path.read_bytes()
    assert cli.main(["admit", *entries, "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wth-grader admit: ") and "Traceback" not in err
    assert path.read_bytes() == before
    return err


def test_a_team_hands_itself_in_and_the_coach_admits_it(tmp_path, capsys, remote, endpoint):
    root = endpoint.uri.removesuffix("/score")
    assert _handin(tmp_path, "--name", "alpha", "--workspace", root, "--repo", remote, "--endpoint", endpoint.uri) == 0
    out = capsys.readouterr().out
    assert "alpha: repo: ok" in out and "'trunk' is there" in out, out  # the branch: the remote's HEAD
    assert "alpha: workspace: ok" in out and "alpha: endpoint: ok" in out, out
    entry = yaml.safe_load((tmp_path / "alpha.yaml").read_text())
    assert entry["repo"] == {"git": remote, "ref": "trunk"}
    assert handin.check_entry(entry, tmp_path / "alpha.yaml").endpoint.uri == endpoint.uri

    path = _teams_file(tmp_path)
    assert cli.main(["admit", str(tmp_path / "alpha.yaml"), "--config", str(path)]) == 0
    assert "admitted 'alpha'" in capsys.readouterr().out
    config = teams.load(path)
    assert [team.name for team in config.teams] == ["bravo", "alpha"]
    assert config.team("alpha").repo.ref == "trunk" and config.grader_dir.name == ".grader"
    text = path.read_text()
    assert text.startswith(TEAMS.split("teams:")[0]) and "# written by hand" in text  # comments kept

    assert "duplicate team name" in _refused(capsys, tmp_path, path, str(tmp_path / "alpha.yaml"))


@pytest.mark.parametrize("text", [
    "event: e\nteams:\n- name: bravo\n  workspace: .wth\n  endpoint: null\n  repo: null",  # indentless, no final newline
    "event: e\nteams:\n    -   name: bravo\n        workspace: .wth\n        endpoint: null\n        repo: null\n",
])
def test_admit_appends_to_any_block_list(tmp_path, text, remote):
    path = _teams_file(tmp_path, text)
    entry = tmp_path / "alpha.yaml"
    entry.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": None,
                                     "repo": {"git": remote, "ref": "trunk"}}))
    assert cli.main(["admit", str(entry), "--config", str(path), "--anyway"]) == 0  # its workspace does not answer
    assert [team.name for team in teams.load(path).teams] == ["bravo", "alpha"]


@pytest.mark.parametrize(("entry", "reason"), [
    ({"python": "/usr/bin/python3"}, "python: not in a hand-in"),
    ({"endpoint": {"uri": "http://127.0.0.1:1/score", "key_env": "BRAVO_ENDPOINT_KEY"}},
     "a team names only its own secrets: ALPHA_ENDPOINT_KEY, not BRAVO_ENDPOINT_KEY"),
    ({"repo": "/home/coach/other-team"}, "repo: a hand-in gives a git URL"),
    ({"workspace": "/home/coach/.wth"}, "workspace: a hand-in gives a tracking URI"),
    ({"endpoint": {"uri": "http://127.0.0.1:1/score", "key": "s3cr3t-value"}}, "inline secrets are refused"),
    ({"repo": {"git": "https://user:s3cr3t-value@example.com/a.git"}}, "in a URL is refused"),
    ({"repo": {"git": "--upload-pack=touch pwned;://x"}}, "expected a git URL"),  # never an option of git
])
def test_a_bad_entry_is_refused_in_one_line(tmp_path, capsys, entry, reason):
    path = _teams_file(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": None,
                                   "repo": None, **entry}))
    err = _refused(capsys, tmp_path, path, str(bad))
    assert reason in err and "s3cr3t" not in err, err


def test_an_unreachable_repository_is_reported_and_not_admitted_without_anyway(tmp_path, capsys, endpoint):
    missing = f"file://{tmp_path / 'nowhere.git'}"
    root = endpoint.uri.removesuffix("/score")
    assert _handin(tmp_path, "--name", "alpha", "--workspace", root, "--repo", missing) == 1
    out = capsys.readouterr().out
    assert "alpha: repo: NOT OK: unreachable: git ls-remote failed" in out and "alpha: endpoint: ok: none given" in out
    assert yaml.safe_load((tmp_path / "alpha.yaml").read_text())["repo"] == {"git": missing}  # the remote's HEAD, later

    path = _teams_file(tmp_path)
    err = _refused(capsys, tmp_path, path, str(tmp_path / "alpha.yaml"))
    assert "team 'alpha' not admitted: repo: unreachable" in err and "--anyway" in err
    assert cli.main(["admit", str(tmp_path / "alpha.yaml"), "--config", str(path), "--anyway"]) == 0
    assert teams.load(path).team("alpha").repo.git == missing


def test_handin_refuses_a_bad_name_before_checking_anything(tmp_path, capsys):
    assert _handin(tmp_path, "--name", "al\x07pha", "--workspace", "http://127.0.0.1:1") == 2
    err = capsys.readouterr().err
    assert err.startswith("wth handin: ") and "control characters" in err and err.count("\n") == 1
    assert not (tmp_path / "alpha.yaml").exists()


@pytest.mark.parametrize(("text", "reason"), [
    ('event: e\nteams: [{name: bravo, workspace: .wth, endpoint: null, repo: null}]\n', "not a [...] list"),
    (TEAMS.replace("endpoint: null", "endpoint: {uri: 'http://127.0.0.1:1/score', key_env: ALPHA_ENDPOINT_KEY}"),
     "ALPHA_ENDPOINT_KEY is already another team's"),
])
def test_admit_refuses_what_it_cannot_append_safely(tmp_path, capsys, text, reason):
    path = _teams_file(tmp_path, text)
    entry = tmp_path / "alpha.yaml"
    entry.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1",
                                     "endpoint": {"uri": "http://127.0.0.1:1/score", "key_env": "ALPHA_ENDPOINT_KEY"},
                                     "repo": None}))
    assert reason in _refused(capsys, tmp_path, path, str(entry))


def test_admit_refuses_a_missing_or_bad_teams_file_and_makes_nothing(tmp_path, capsys):
    entry = tmp_path / "alpha.yaml"
    entry.write_text(yaml.safe_dump({"name": "alpha", "workspace": "http://127.0.0.1:1", "endpoint": None, "repo": None}))
    assert cli.main(["admit", str(entry), "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "no such teams file" in capsys.readouterr().err
    bad = _teams_file(tmp_path, "event: e\nteams: []\n")
    assert "expected at least one entry" in _refused(capsys, tmp_path, bad, str(entry))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alpha.yaml", "teams.yaml"]
