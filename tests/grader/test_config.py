"""The teams file: the minimal form works, every mistake is one line naming the team and key (exit 2),
inline secrets are refused."""

from __future__ import annotations

import textwrap

import pytest
from grader_tools import FAKE_SECRET, run_cli

from grader import config
from grader.errors import ConfigError

MINIMAL = """\
event: Contoso MLOps hack
teams:
  - name: alpha
    workspace: alpha/.wth
    endpoint: http://127.0.0.1:5001/score
    repo: alpha
"""


def _load(tmp_path, text: str) -> config.Config:
    path = tmp_path / "teams.yaml"
    path.write_text(textwrap.dedent(text))
    return config.load(path)


def _error(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    return str(err.value)


def test_minimal_form_from_design(tmp_path):
    cfg = _load(tmp_path, MINIMAL)
    team = cfg.team("alpha")
    assert cfg.event == "Contoso MLOps hack"
    assert team.workspace.kind == "folder" and team.workspace.location == str(tmp_path / "alpha" / ".wth")
    assert team.endpoint.uri == "http://127.0.0.1:5001/score" and team.endpoint.key_env is None
    assert team.repo == tmp_path / "alpha"
    assert cfg.grader_dir == tmp_path / ".grader"
    assert team.holdout.kind in ("public", "seed")


def test_richer_form(tmp_path, monkeypatch):
    monkeypatch.delenv("WTH_HOLDOUT_SEED", raising=False)
    cfg = _load(tmp_path, """\
        event: hack
        holdout: {seed_env: COACH_SEED, days: 21}
        defaults: {experiment: exp, budgets: {read_s: 4}}
        teams:
          - name: beta
            workspace: {tracking_uri: http://10.0.0.5:5000}
            endpoint: {uri: https://beta.example/score, key_env: BETA_KEY}
            repo: /src/beta
            devops: {organization: contoso, project: mlops, pat_env: BETA_PAT}
            budgets: {team_s: 60}
          - name: gamma
            workspace: {azureml: {subscription_id: s, resource_group: rg, workspace_name: w}}
            endpoint: null
            repo: null
        """)
    beta, gamma = cfg.teams
    assert beta.workspace.kind == "uri" and beta.experiment == "exp"
    assert beta.budgets.read_s == 4 and beta.budgets.team_s == 60
    assert beta.holdout.kind == "seed" and beta.holdout.seed_env == "COACH_SEED" and beta.holdout.days == 21
    assert beta.secret_env_names() == ["BETA_KEY", "BETA_PAT", "COACH_SEED"]
    assert gamma.workspace.kind == "azureml" and gamma.endpoint is None and gamma.repo is None


def test_no_holdout_configured_is_public_unless_the_seed_env_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("WTH_HOLDOUT_SEED", raising=False)
    assert _load(tmp_path, MINIMAL).teams[0].holdout.kind == "public"
    monkeypatch.setenv("WTH_HOLDOUT_SEED", "4242")
    holdout = _load(tmp_path, MINIMAL).teams[0].holdout
    assert holdout.kind == "seed" and holdout.seed_env == "WTH_HOLDOUT_SEED"


@pytest.mark.parametrize("text, expected", [
    (MINIMAL.replace("    repo: alpha\n", "    repo: alpha\n    colour: red\n"), "team 'alpha': colour: unknown key"),
    (MINIMAL.replace("    repo: alpha\n", ""), "team 'alpha': repo: missing"),
    (MINIMAL.replace("http://127.0.0.1:5001/score", "ftp://x/score"), "team 'alpha': endpoint: expected an http(s) scoring URI"),
    (MINIMAL.replace("event: Contoso MLOps hack\n", ""), "event: missing"),
    (MINIMAL + "  - name: alpha\n    workspace: b\n    endpoint: null\n    repo: null\n", "team 'alpha': name: duplicate"),
    (MINIMAL + "defaults: {budgets: {check_s: -1}}\n", "defaults.budgets.check_s: expected a positive number"),
    (MINIMAL + "holdout: {seed_env: not a name}\n", "holdout.seed_env: expected the NAME of an environment variable"),
    ("event: x\nteams: [\n", "not valid YAML at line"),
])
def test_mistakes_are_one_line_naming_team_and_key(tmp_path, text, expected):
    message = _error(tmp_path, text)
    assert expected in message and "\n" not in message


@pytest.mark.parametrize("snippet, key", [
    ("    endpoint: {uri: http://h/score, key: SECRET}\n", "endpoint.key"),
    ("    endpoint: http://h/score\n    devops: {organization: o, project: p, pat_env: X, token: SECRET}\n", "devops.token"),
    ("    endpoint: http://h/score\n    workspace_password: SECRET\n", "workspace_password"),
])
def test_inline_secrets_are_refused_without_echoing_them(tmp_path, snippet, key):
    text = MINIMAL.replace("    endpoint: http://127.0.0.1:5001/score\n", snippet).replace("SECRET", FAKE_SECRET)
    message = _error(tmp_path, text)
    assert f"team 'alpha': {key}: inline secrets are refused" in message
    assert FAKE_SECRET not in message


def test_uri_with_a_password_is_refused(tmp_path):
    text = MINIMAL.replace("alpha/.wth", f"{{tracking_uri: 'http://coach:{FAKE_SECRET}@10.0.0.5:5000'}}")
    message = _error(tmp_path, text)
    assert "inline password is refused" in message and FAKE_SECRET not in message


def test_cli_bad_teams_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "teams.yaml"
    path.write_text(MINIMAL.replace("    repo: alpha\n", "    repo: alpha\n    colour: red\n"))
    done = run_cli("scoreboard", "--config", str(path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "colour: unknown key" in done.stderr
    assert "Traceback" not in done.stderr
    missing = run_cli("check", "--config", str(tmp_path / "nope.yaml"), "--team", "alpha")
    assert missing.returncode == 2 and "no such teams file" in missing.stderr


def test_the_example_teams_file_parses():
    from grader_tools import REPO_ROOT

    cfg = config.load(REPO_ROOT / "resources" / "teams.example.yaml")
    assert [t.workspace.kind for t in cfg.teams] == ["folder", "uri", "azureml"]
    assert cfg.teams[0].holdout.kind == "seed" and cfg.teams[1].endpoint.key_env == "BRAVO_ENDPOINT_KEY"


def test_repo_by_git_url(tmp_path):
    cfg = _load(tmp_path, MINIMAL.replace("    repo: alpha\n",
                                          "    repo: {git: 'https://git.example/alpha.git', ref: dev, token_env: ALPHA_GIT}\n"))
    team = cfg.team("alpha")
    assert team.repo is None and team.has_repo
    assert (team.git.url, team.git.ref, team.git.token_env) == ("https://git.example/alpha.git", "dev", "ALPHA_GIT")
    assert "ALPHA_GIT" in team.secret_env_names()
    assert _load(tmp_path, MINIMAL.replace("repo: alpha", "repo: {git: 'git@host:team/alpha.git'}")).teams[0].git.ref == "main"


@pytest.mark.parametrize("repo, expected", [
    ("{git: 'https://x-access-token@git.example/a.git'}", "repo.git: credentials in the URL are refused"),
    ("{git: 'alpha'}", "repo.git: expected a git URL"),
    ("{git: 'https://git.example/a.git', ref: '--upload-pack=touch'}", "repo.ref: expected a branch or tag name"),
    ("{git: 'https://git.example/a.git', branch: main}", "repo.branch: unknown key"),
    ("{git: 'https://git.example/a.git', token_env: 'ghp_not a name'}", "repo.token_env: expected the NAME"),
])
def test_repo_git_mistakes_are_one_line(tmp_path, repo, expected):
    message = _error(tmp_path, MINIMAL.replace("repo: alpha", f"repo: {repo}"))
    assert f"team 'alpha': {expected}" in message and "\n" not in message
