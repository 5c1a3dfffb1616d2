"""Challenge 00: prerequisites and set-up."""

from __future__ import annotations

from ..probes.mlflow import WorkspaceMissing
from . import check, failed, passed

STARTER = ("README.md", "requirements.txt", "transactions.py", "acquire.py", "explore.py", "train.py", "plot.py")


@check("C0.1", "Workspace reachable", points=5, anchor="success-criteria")
def workspace_reachable(team) -> object:
    try:
        experiments = team.mlflow.experiments
    except WorkspaceMissing as err:
        return failed(f"{err}. Create the workspace (Challenge 00) and tell your coach where it is.",
                      workspace=team.team.workspace.location)
    names = [e.name for e in experiments]
    return passed(f"MLflow workspace {team.team.workspace.location} answers: {len(names)} experiment(s)",
                  workspace=team.team.workspace.location, experiments=names[:20])


@check("C0.2", "Team repository holds the starter project", points=5, anchor="success-criteria", source="repo")
def starter_project(team) -> object:
    repo = team.team.repo
    if repo is None:
        return failed("no repository configured for this team yet: give your coach the path of your clone")
    if not repo.is_dir():
        return failed(f"no repository at {repo}: clone your team's repository there", repo=str(repo))
    present = [name for name in STARTER if (repo / "starter" / name).is_file()]
    missing = [f"starter/{name}" for name in STARTER if name not in present]
    evidence = {"repo": str(repo), "git": (repo / ".git").exists(), "found": [f"starter/{n}" for n in present]}
    if missing:
        return failed(f"the starter project is incomplete: missing {', '.join(missing)}; copy "
                      "resources/starter/ into your repository as starter/", missing=missing, **evidence)
    if not evidence["git"]:
        return failed(f"{repo} holds the starter project but is not a Git repository (no .git): "
                      "commit it to your team's repository", **evidence)
    return passed(f"{repo} is a Git repository with the starter project (starter/, {len(STARTER)} files)", **evidence)
