"""The registered model is self-contained: it loads and forecasts where only its declared
requirements are installed, with neither statsmodels nor the `solution` package."""

import json
import subprocess
import sys
import venv
from pathlib import Path

import mlflow
import pytest

from solution import forecast, model_logging, workspace
from wth import data

# Packages the training side uses that the registered model must not need.
UNDECLARED = ("statsmodels", "solution", "threadpoolctl", "pmdarima")

# Blocks imports of UNDECLARED in this process: installed in the project's venv, they must stay unused.
BLOCKER = f"""
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {UNDECLARED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None
sys.meta_path.insert(0, _Blocked())
"""

# Loads the champion through the registry as `mlflow models serve` or a batch job would, then the way
# solution/score.py does, and prints what it got plus any undeclared package that got imported.
LOADER = """
import json, sys
import mlflow, pandas as pd
registry, steps, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
mlflow.set_tracking_uri(registry)
mlflow.set_registry_uri(registry)
loaded = mlflow.pyfunc.load_model("models:/transactions-forecast@champion")
out = loaded.predict(pd.DataFrame({"steps": [steps], "interval": [interval]}))
direct = loaded.unwrap_python_model().forecast.predict(steps, interval)
print(json.dumps({
    "columns": list(out.columns),
    "dates": [f"{d:%Y-%m-%d}" for d in out["date"]],
    "bands": {c: [float(v) for v in out[c]] for c in ("forecast", "lower", "upper")},
    "direct": {c: [float(v) for v in direct[c]] for c in ("forecast", "lower", "upper")},
    "undeclared": sorted({m.split(".")[0] for m in sys.modules} & set(UNDECLARED)),
}))
"""


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A workspace whose champion is a statsmodels model fitted on the bundled data, and its forecast."""
    series, _ = data.daily_series(data.read_transactions(data.bundled_file()), end="2013-12-31")
    fitted = forecast.fit("holt_winters", series)
    ws = workspace.resolve(tmp_path_factory.mktemp("ws") / "ws")
    ws.activate()
    with mlflow.start_run():
        info = model_logging.log(fitted)
    version = workspace.register(ws, info.model_uri, {"train_end": "2013-12-31"})
    workspace.set_champion(ws, version.version)
    return ws, fitted, info


def _load_elsewhere(python: str, ws, cwd: Path, prelude: str = "") -> dict:
    code = prelude + f"UNDECLARED = {UNDECLARED!r}\n" + LOADER
    # -I: no user site, no PYTHONPATH, and not the working directory (the repo root holds `solution/`)
    result = subprocess.run([python, "-I", "-c", code, ws.tracking_uri, "30", "0.9"],
                            capture_output=True, text=True, timeout=300, cwd=cwd, check=False)
    assert result.returncode == 0, f"the registered model did not load and predict:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def _assert_same_forecast(got: dict, fitted) -> None:
    expected = fitted.predict(30, 0.9)
    assert got["columns"] == ["date", "forecast", "lower", "upper"]
    assert got["dates"] == [f"{d:%Y-%m-%d}" for d in expected.index]
    for column in ("forecast", "lower", "upper"):
        assert got["bands"][column] == pytest.approx(expected[column].tolist(), rel=1e-6)
        assert got["direct"][column] == pytest.approx(expected[column].tolist(), rel=1e-6)
    assert got["undeclared"] == []


def test_the_declared_requirements_are_only_mlflow_numpy_and_pandas(champion):
    _, _, info = champion
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    names = {line.split("==")[0].strip() for line in (local / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    assert names == {"mlflow", "numpy", "pandas"}


def test_the_registered_model_loads_where_the_training_packages_cannot_be_imported(champion, tmp_path):
    """The project's own interpreter with statsmodels, threadpoolctl, pmdarima and `solution` made
    unimportable: fast (a few seconds), so it always runs; the fresh-environment test below is the
    stronger check and needs the package index."""
    ws, fitted, _ = champion
    _assert_same_forecast(_load_elsewhere(sys.executable, ws, tmp_path, prelude=BLOCKER), fitted)


NETWORK_TROUBLE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                   "Failed to establish a new connection", "ConnectTimeoutError")


@pytest.mark.slow
def test_the_registered_model_loads_in_a_fresh_venv_built_from_its_requirements(champion, tmp_path):
    """A new virtual environment holding exactly the model's requirements.txt (what `mlflow models serve`
    or an Azure ML environment built from the model installs). Measured here: about 50 s, mostly pip
    installing mlflow's dependencies from its cache. Skips, saying why, only when the package index
    cannot be reached at all; a requirement that cannot be satisfied fails."""
    ws, fitted, info = champion
    requirements = Path(mlflow.artifacts.download_artifacts(info.model_uri)) / "requirements.txt"
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = str(env / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "-r", str(requirements)], capture_output=True, text=True, timeout=900, check=False)
    if install.returncode != 0:
        if any(trouble in install.stderr for trouble in NETWORK_TROUBLE):
            pytest.skip(f"cannot reach the package index to build the environment: {install.stderr.strip()[-300:]}")
        pytest.fail(f"the model's requirements do not install:\n{install.stderr[-3000:]}")
    missing = subprocess.run([python, "-I", "-c", "import statsmodels"], capture_output=True, cwd=tmp_path, check=False)
    assert missing.returncode != 0, "the fresh environment must not hold statsmodels"
    _assert_same_forecast(_load_elsewhere(python, ws, tmp_path), fitted)
