"""What the monitor says about June 2014 in the real AdventureWorks table.

The real table changes regime after May 2014 (work and sales orders stop being recorded in early June,
so the daily mean per transaction jumps). A champion trained on the real 2014-03-01..2014-05-31 (kept
short so the test is quick) is checked against the real rows of 2014-06-01..2014-06-28.
"""

import pytest
from datafiles import cut

from solution import cli, drift, workspace


def test_june_2014_of_the_real_table_is_drift(real_table, tmp_path, capsys):
    root = tmp_path / "ws"
    assert cli.main(["pipeline", "build", "--workspace", str(root), "--source", str(real_table),
                     "--start", "2014-03-01"]) == 0
    june = cut(real_table, tmp_path / "june-2014.csv", "2014-06-01", "2014-06-28")
    capsys.readouterr()
    assert cli.main(["drift", "--workspace", str(root), "--batch", str(june)]) == drift.DRIFT
    ws = workspace.resolve(root)
    exp = ws.client.get_experiment_by_name(ws.experiment)
    (run,) = ws.client.search_runs([exp.experiment_id], "tags.`wth.pipeline` = 'drift'")
    metrics = run.data.metrics
    with capsys.disabled():
        print("\nreal June 2014:", {k: round(v, 3) for k, v in sorted(metrics.items())})
    assert metrics["drift_score"] >= 2, "a regime change, not a borderline call"
    assert metrics["ks_pvalue"] < 1e-6 and metrics["performance_decay"] >= 2
    assert metrics["batch_mase"] > 2 * metrics["backtest_mase"]
    scores = [metrics[f"{test}_score"] for test in ("ks", "psi", "weekday", "decay")]
    assert metrics["drift_score"] == pytest.approx(max(scores))
