"""The teams file: the minimal form works, settings inherit from `defaults`, every mistake is one line
naming the file, the team and the key (exit 2 through `wth-grader`), secrets are refused wherever they
hide, team names make one folder each, and the docs' key table is the model's."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml
from grader_tools import FAKE_SECRET, REPO_ROOT

from grader import cli, runner, teams
from grader.context import Session, TeamContext
from grader.teams import ConfigError

MINIMAL = """\
event: Contoso MLOps hack
teams:
  - name: alpha
    workspace: alpha/.wth
    endpoint: http://127.0.0.1:5001/score
    repo: alpha
"""
LINKING_DOCS = [REPO_ROOT / "docs" / "contracts.md", REPO_ROOT / "Coach" / "Grading.md", REPO_ROOT / "Coach" / "README.md"]
TEAM_DOCS = [REPO_ROOT / "grader" / "README.md", *LINKING_DOCS, REPO_ROOT / "Student" / "Challenge-00.md"]


def _write(tmp_path, text: str):
    path = tmp_path / "teams.yaml"
    path.write_text(textwrap.dedent(text) if isinstance(text, str) else text)
    return path


def _load(tmp_path, text: str) -> teams.Config:
    return teams.load(_write(tmp_path, text))


def _refused(tmp_path, capsys, text) -> str:
    """`wth-grader check` on the file: exit 2 and the one line it printed."""
    code = cli.main(["check", "--config", str(_write(tmp_path, text)), "--team", "alpha"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"wth-grader check: {tmp_path / 'teams.yaml'}: ")
    return err


def test_minimal_form_from_design(tmp_path):
    cfg = _load(tmp_path, MINIMAL)
    team = cfg.team("alpha")
    assert cfg.event == "Contoso MLOps hack"
    assert team.workspace.kind == "folder" and team.workspace.location == str(tmp_path / "alpha" / ".wth")
    assert team.endpoint.uri == "http://127.0.0.1:5001/score" and team.endpoint.key_env is None
    assert team.repo.path == tmp_path / "alpha" and team.repo.git is None
    assert cfg.grader_dir == tmp_path / ".grader"
    assert team.holdout.kind in ("public", "seed")
    assert (team.experiment, team.model) == ("wth-mlops", "transactions-forecast")


def test_richer_form(tmp_path, monkeypatch):
    monkeypatch.delenv("WTH_HOLDOUT_SEED", raising=False)
    cfg = _load(tmp_path, """\
        event: hack
        holdout: {seed_env: COACH_SEED, days: 21}
        defaults: {experiment: exp, budgets: {read_s: 4, check_s: 20}}
        teams:
          - name: beta
            workspace: {tracking_uri: http://10.0.0.5:5000}
            endpoint: {uri: https://beta.example/score, key_env: BETA_KEY}
            repo: /src/beta
            devops: {organization: contoso, project: mlops, pat_env: BETA_PAT}
            budgets: {team_s: 60, check_s: 10}
          - name: gamma
            workspace: {azureml: {subscription_id: s, resource_group: rg, workspace_name: w}}
            endpoint: null
            repo: null
            holdout: {file: private/full.csv}
            reference: true
        """)
    beta, gamma = cfg.teams
    assert beta.workspace.kind == "uri" and beta.experiment == "exp" and gamma.experiment == "exp"
    assert (beta.budgets.read_s, beta.budgets.team_s, beta.budgets.check_s) == (4, 60, 10)  # key by key
    assert (gamma.budgets.read_s, gamma.budgets.check_s, gamma.budgets.pytest_s) == (4, 20, 120)
    assert beta.holdout.kind == "seed" and beta.holdout.seed_env == "COACH_SEED" and beta.holdout.days == 21
    assert gamma.holdout.kind == "file" and gamma.holdout.file == tmp_path / "private" / "full.csv"
    assert beta.secret_env_names() == ["BETA_KEY", "BETA_PAT", "COACH_SEED"]
    assert gamma.workspace.kind == "azureml" and gamma.endpoint is None and gamma.repo is None and not gamma.has_repo
    assert gamma.reference and not beta.reference  # the coach's reference team: graded apart, never ranked
    assert str(gamma.workspace.azureml) == "Azure ML workspace w (resource group rg)"  # a wth.azureml.Workspace


def test_no_holdout_configured_is_public_unless_the_seed_env_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("WTH_HOLDOUT_SEED", raising=False)
    assert _load(tmp_path, MINIMAL).teams[0].holdout.kind == "public"
    monkeypatch.setenv("WTH_HOLDOUT_SEED", "4242")
    holdout = _load(tmp_path, MINIMAL).teams[0].holdout
    assert holdout.kind == "seed" and holdout.seed_env == "WTH_HOLDOUT_SEED"


@pytest.mark.parametrize("value, kind, location", [
    ("ws/.wth", "folder", "{tmp}/ws/.wth"),
    ("ws/mlflow.db", "sqlite", "{tmp}/ws/mlflow.db"),
    ("file://{tmp}/ws/mlflow.db", "sqlite", "{tmp}/ws/mlflow.db"),
    ("http://10.0.0.5:5000", "uri", "http://10.0.0.5:5000"),
    ("sqlite:///{tmp}/x.db", "uri", "sqlite:///{tmp}/x.db"),
])
def test_one_rule_for_a_workspaces_kind(tmp_path, monkeypatch, value, kind, location):
    """The teams file and `grade_workspace` (the demo's last step) read a workspace string alike."""
    value, location = value.format(tmp=tmp_path), location.format(tmp=tmp_path)
    ref = _load(tmp_path, MINIMAL.replace("alpha/.wth", f"'{value}'")).teams[0].workspace
    assert (ref.kind, ref.location) == (kind, location)
    if kind in ("folder", "sqlite"):  # a missing store: C0.1 says which kind it looked for, at once
        monkeypatch.chdir(tmp_path)
        graded = runner.grade_workspace(value, challenge=0).result("C0.1")
        looked_for = f"no workspace folder at {location}" if kind == "folder" else f"no MLflow store at {location}"
        assert graded.status == "fail" and looked_for in graded.message


def test_grade_workspace_refuses_what_a_teams_file_would(tmp_path):
    with pytest.raises(ConfigError, match=r"^grade_workspace: team 'reference': endpoint.uri: expected an http\(s\) URL"):
        runner.grade_workspace(tmp_path, endpoint="ftp://x/score")
    with pytest.raises(ConfigError, match="in a URL is refused"):
        runner.grade_workspace(f"https://coach:{FAKE_SECRET}@mlflow.example")


def test_a_local_repo_is_the_teams_clone(tmp_path):
    team = _load(tmp_path, MINIMAL).teams[0]
    session = Session(_load(tmp_path, MINIMAL))
    try:
        assert TeamContext(team, session).repo == tmp_path / "alpha"
    finally:
        session.close()


@pytest.mark.parametrize("text, expected", [
    (MINIMAL.replace("    repo: alpha\n", "    repo: alpha\n    colour: red\n"),
     "team 'alpha': colour: unknown key (allowed: name, workspace, endpoint, repo, reference, experiment, model"),
    (MINIMAL.replace("    repo: alpha\n", ""), "team 'alpha': repo: missing"),
    (MINIMAL.replace("http://127.0.0.1:5001/score", "ftp://x/score"), "team 'alpha': endpoint.uri: expected an http(s) URL"),
    (MINIMAL.replace("event: Contoso MLOps hack\n", ""), "teams.yaml: event: missing"),
    (MINIMAL.replace("  - name: alpha\n", "  - name: ''\n"), "team #1: name: expected a non-empty string"),
    (MINIMAL.replace("  - name: alpha\n", "  - name: '" + "x" * 81 + "'\n"), "name: String should have at most 80"),
    (MINIMAL.replace("  - name: alpha\n", "  - name: \"a\\tb\"\n"), "name: expected a name without control characters"),
    (MINIMAL + "  - name: alpha\n    workspace: b\n    endpoint: null\n    repo: null\n", "team 'alpha': name: duplicate"),
    (MINIMAL + "defaults: {budgets: {check_s: -1}}\n", "teams.yaml: defaults.budgets.check_s: Input should be greater than 0"),
    (MINIMAL + "defaults: {budgets: {check_s: true}}\n", "defaults.budgets.check_s: expected a number, got bool"),
    (MINIMAL + "holdout: {seed_env: not a name}\n", "holdout.seed_env: expected the NAME of an environment variable"),
    (MINIMAL + "holdout: {seed_env: S}\ndefaults: {holdout: {seed: 3}}\n", "holdout and defaults.holdout: give the holdout once"),
    (MINIMAL + "holdout: {days: 21}\n", "holdout: give exactly one of seed_env (recommended), seed, file"),
    (MINIMAL + "holdout: {seed_env: S, start: 2014-13-01}\n", "not valid YAML: month must be in 1..12"),
    (MINIMAL + "holdout: {seed_env: S, start: 'June'}\n", "holdout.start: expected a day as YYYY-MM-DD"),
    (MINIMAL + "drift_batches: {clean: a.csv, dirty: b.csv}\n", "drift_batches.dirty: Input should be 'clean' or 'drifted'"),
    (MINIMAL.replace("repo: alpha", "repo: {path: alpha, ref: dev}"), "team 'alpha': repo: ref and token_env go with git"),
    (MINIMAL.replace("repo: alpha", "repo: {}"), "team 'alpha': repo: give exactly one of path, git"),
    (MINIMAL + '    reference: "true"\n', "team 'alpha': reference: Input should be a valid boolean"),
    (MINIMAL.replace("alpha/.wth", "{tracking_uri: 'http://h:5000', path: x}"), "workspace: give exactly one of path"),
    (MINIMAL.replace("alpha/.wth", "{azureml: {subscription_id: s, resource_group: rg}}"),
     "team 'alpha': workspace.azureml.workspace_name: missing"),
    (MINIMAL.replace("alpha/.wth", "{azureml: {subscription_id: s, resource_group: rg, workspace_name: w, region: x}}"),
     "workspace.azureml.region: unknown key (allowed: subscription_id, resource_group, workspace_name, tenant_id"),
    ("event: x\nteams: []\n", "teams.yaml: teams: expected at least one entry"),
    ("- just a list\n", "teams.yaml: expected a mapping, got list"),
    ("event: x\nteams: [\n", "not valid YAML at line"),
])
def test_mistakes_are_one_line_naming_file_team_and_key(tmp_path, capsys, text, expected):
    assert expected in _refused(tmp_path, capsys, text)


@pytest.mark.parametrize("snippet, key, env_key", [
    ("    endpoint: {uri: http://h/score, key: SECRET}\n", "endpoint.key", "key_env"),
    ("    endpoint: http://h/score\n    devops: {organization: o, project: p, pat_env: X, token: SECRET}\n",
     "devops.token", "pat_env"),
    ("    endpoint: http://h/score\n    workspace_password: SECRET\n", "workspace_password", "*_env keys"),
])
def test_inline_secrets_are_refused_without_echoing_them(tmp_path, capsys, snippet, key, env_key):
    text = MINIMAL.replace("    endpoint: http://127.0.0.1:5001/score\n", snippet).replace("SECRET", FAKE_SECRET)
    text = text.replace("    repo: alpha\n", "    repo: alpha\n    colour: red\n")  # a plainer mistake, reported after
    message = _refused(tmp_path, capsys, text)
    assert f"team 'alpha': {key}: inline secrets are refused" in message and env_key in message
    assert FAKE_SECRET not in message


@pytest.mark.parametrize("where, url, points_at", [
    ("workspace", "{tracking_uri: 'http://coach:SECRET@10.0.0.5:5000'}", "workspace.token_env"),
    ("workspace", "'https://10.0.0.5:5000/?access_token=SECRET'", "workspace.token_env"),
    ("endpoint", "'https://team.example/score?key=SECRET'", "endpoint.key_env"),
    ("endpoint", "{uri: 'https://team.example/score?code=SECRET'}", "endpoint.key_env"),
    ("repo", "{git: 'https://x-access-token:SECRET@git.example/a.git'}", "repo.token_env"),
    ("repo", "{git: 'https://SECRET@github.com/team/a.git'}", "repo.token_env"),
    ("repo", "{git: 'https://gitlab.example/team/a.git?private_token=SECRET'}", "repo.token_env"),
    ("devops", "{organization: o, project: p, pat_env: P, base_url: 'https://ado.example/#access_token=SECRET'}",
     "devops.pat_env"),
    ("docs_url", "'https://docs.example/Student/?sig=SECRET'", "without one"),
    ("holdout", "{file: 'https://coach:SECRET@files.example/th.csv'}", "*_env keys"),
])
def test_a_credential_in_any_url_is_refused_pointing_at_its_env_key(tmp_path, capsys, where, url, points_at):
    url = url.replace("SECRET", FAKE_SECRET)
    if where in ("workspace", "endpoint", "repo"):
        text = re.sub(rf"(    {where}: ).*", lambda m: m.group(1) + url, MINIMAL, count=1)
    else:
        text = MINIMAL.replace("    repo: alpha\n", f"    repo: alpha\n    {where}: {url}\n") if where == "devops" \
            else MINIMAL + f"{where}: {url}\n"
    message = _refused(tmp_path, capsys, text)
    assert "in a URL is refused" in message and points_at in message
    assert FAKE_SECRET not in message


def test_ssh_login_names_and_harmless_queries_are_no_credentials(tmp_path):
    text = MINIMAL.replace("repo: alpha", "repo: {git: 'ssh://git@git.example/team/a.git'}")
    text = text.replace("http://127.0.0.1:5001/score", "'https://team.example/score?api-version=2'")
    team = _load(tmp_path, text).teams[0]
    assert team.repo.git == "ssh://git@git.example/team/a.git" and team.endpoint.uri.endswith("api-version=2")


@pytest.mark.parametrize("url, refused", [
    ("http://git.example/a.git", True),
    ("http://10.0.0.7:3000/a.git", True),
    ("https://git.example/a.git", False),
    ("http://127.0.0.1:8080/a.git", False),
    ("http://localhost/a.git", False),
    ("http://[::1]:8080/a.git", False),
])
def test_a_token_goes_over_plain_http_only_to_this_machine(tmp_path, capsys, url, refused):
    text = MINIMAL.replace("repo: alpha", f"repo: {{git: '{url}', token_env: TEAM_TOKEN}}")
    if refused:
        message = _refused(tmp_path, capsys, text)
        assert "team 'alpha': repo.token_env: the token would cross the network in clear over http://" in message
    else:
        assert _load(tmp_path, text).teams[0].repo.token_env == "TEAM_TOKEN"
    assert _load(tmp_path, text.replace(", token_env: TEAM_TOKEN", "")).teams[0].repo.git == url  # no token: fine


def test_a_pat_goes_over_plain_http_only_to_this_machine(tmp_path, capsys):
    devops = "    devops: {organization: o, project: p, base_url: 'http://ado.example', pat_env: PAT}\n"
    message = _refused(tmp_path, capsys, MINIMAL + devops)
    assert "team 'alpha': devops.pat_env: the PAT would cross the network in clear" in message
    assert _load(tmp_path, MINIMAL + devops.replace("ado.example", "127.0.0.1:8080")).teams[0].devops.pat_env == "PAT"


def _two(first: str, second: str) -> str:
    return ("event: e\nteams:\n" + "".join(
        f"  - {{name: '{name}', workspace: w{i}, endpoint: null, repo: null}}\n" for i, name in enumerate((first, second))))


@pytest.mark.parametrize("first, second", [("team 1", "team_1"), ("Alpha", "alpha"), ("ÉQUIPE", "équipe"),
                                           ("a/b", "a:b")])
def test_names_that_would_share_a_folder_are_refused(tmp_path, capsys, first, second):
    message = _refused(tmp_path, capsys, _two(first, second))
    assert f"team {second!r}: name: reads as team {first!r} once made a folder name" in message


def test_every_team_has_a_folder_of_its_own(tmp_path):
    names = ["alpha", "team 1", "team-1", "../../etc", "équipe", "." * 3, "x" * teams.MAX_NAME]
    cfg = _load(tmp_path, "event: e\nteams:\n" + "".join(
        f"  - {{name: '{name}', workspace: w, endpoint: null, repo: null}}\n" for name in names))
    session = Session(cfg)
    try:
        folders = [session.clone_dir(team) for team in cfg.teams]
    finally:
        session.close()
    assert len({str(f).casefold() for f in folders}) == len(names)
    assert all(f.parent == tmp_path / ".grader" / "repos" and re.fullmatch(r"[\w.-]{1,49}", f.name) for f in folders)
    assert not any(f.name.startswith(".") for f in folders)
    assert teams.folder_name("alpha") == cfg.teams[0].folder == folders[0].name  # stable across passes


def test_a_deep_teams_file_is_one_line(tmp_path, capsys):
    deep = "event: e\nteams: " + "[" * 5000 + "]" * 5000 + "\n"
    assert f"refused: nested deeper than {teams.MAX_DEPTH} levels" in _refused(tmp_path, capsys, deep)


def test_an_oversized_teams_file_is_one_line(tmp_path, capsys):
    big = MINIMAL + "# " + "x" * teams.MAX_BYTES + "\n"
    assert "refused: over 1 MiB" in _refused(tmp_path, capsys, big)


def test_an_alias_bomb_is_one_line(tmp_path, capsys):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\nevent: e\nteams: *a8\n"
    assert "more than 100,000 values once aliases are expanded" in _refused(tmp_path, capsys, bomb)
    assert "an alias refers to the node it is inside" in _refused(tmp_path, capsys, "event: e\nteams: &t [*t]\n")


def test_aliases_within_the_limits_work(tmp_path):
    cfg = _load(tmp_path, MINIMAL + "defaults: {budgets: &b {read_s: 4}}\nholdout: {seed_env: S, days: *d}\n"
                .replace("*d", "21") + "drift_batches: {clean: &c clean.csv, drifted: *c}\n")
    assert cfg.teams[0].budgets.read_s == 4 and cfg.drift_batches["drifted"] == tmp_path / "clean.csv"


def test_a_missing_file_and_an_unknown_team(tmp_path, capsys):
    assert cli.main(["check", "--config", str(tmp_path / "nope.yaml"), "--team", "alpha"]) == 2
    assert "no such teams file" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no team named 'zeta' \\(teams: alpha\\)"):
        _load(tmp_path, MINIMAL).team("zeta")


def test_repo_by_git_url(tmp_path):
    cfg = _load(tmp_path, MINIMAL.replace("    repo: alpha\n",
                                          "    repo: {git: 'https://git.example/alpha.git', ref: dev, token_env: ALPHA_GIT}\n"))
    team = cfg.team("alpha")
    assert team.repo.path is None and team.has_repo
    assert (team.repo.git, team.repo.ref, team.repo.token_env) == ("https://git.example/alpha.git", "dev", "ALPHA_GIT")
    assert "ALPHA_GIT" in team.secret_env_names()
    ssh = MINIMAL.replace("repo: alpha", "repo: {git: 'git@host:team/alpha.git'}")
    assert _load(tmp_path, ssh).teams[0].repo.ref is None  # the remote's HEAD


@pytest.mark.parametrize("repo, expected", [
    ("{git: 'alpha'}", "repo.git: expected a git URL"),
    ("{git: 'https://git.example/a.git', ref: '--upload-pack=touch'}", "repo.ref: expected a branch or tag name"),
    ("{git: 'https://git.example/a.git', branch: main}", "repo.branch: unknown key (allowed: path, git, ref, token_env, ssh_key)"),
    ("{git: 'https://git.example/a.git', token_env: 'ghp_not a name'}", "repo.token_env: expected the NAME"),
])
def test_repo_git_mistakes_are_one_line(tmp_path, capsys, repo, expected):
    assert f"team 'alpha': {expected}" in _refused(tmp_path, capsys, MINIMAL.replace("repo: alpha", f"repo: {repo}"))


def test_the_example_teams_file_parses():
    cfg = teams.load(REPO_ROOT / "resources" / "teams.example.yaml")
    assert [t.workspace.kind for t in cfg.teams] == ["folder", "uri", "azureml"]
    assert cfg.teams[0].holdout.kind == "seed" and cfg.teams[1].endpoint.key_env == "BRAVO_ENDPOINT_KEY"
    assert cfg.teams[1].repo.token_env == "BRAVO_GIT_TOKEN" and cfg.teams[2].workspace.azureml.client_secret_env


def test_the_grader_readmes_key_table_is_the_models():
    """The table ships with the grader (in the kit too, as tools/grader/README.md); the coach's pages link to it."""
    table = teams.keys_markdown()
    assert table in (REPO_ROOT / "grader" / "README.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))
    for key in ("teams[].repo.token_env", "teams[].workspace.azureml.subscription_id", "holdout.seed_env",
                "teams[].budgets.pytest_s", "docs_url"):
        assert key in listed
    for doc in LINKING_DOCS:
        assert "grader/README.md#the-teams-file" in doc.read_text()  # the coach's other pages link to the table


@pytest.mark.parametrize("doc", TEAM_DOCS, ids=lambda p: p.name)
def test_every_teams_file_the_docs_show_parses(tmp_path, doc):
    """Each YAML block of the docs is a teams file, or a part of one (`holdout: ...`) that parses beside
    the minimal one; so each key they name is one of the model's."""
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)
    assert blocks
    for block in blocks:
        data = yaml.safe_load(block)
        whole = data if "teams" in data else {**yaml.safe_load(MINIMAL), **data}
        teams.parse(whole, tmp_path / "teams.yaml")
