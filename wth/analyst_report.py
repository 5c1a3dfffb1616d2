"""The analyst's forecast report (challenge 03): scores through the live REST endpoint, exactly as the
original hack's Power BI report did, and writes one self-contained HTML page (chart inlined as a PNG).

The request is `{"steps": N, "interval": 0.9}` POSTed to the scoring URI (again without `interval` when
the endpoint refuses it); the Power BI variant in the docs makes the same request. Recent actuals, when
given, are drawn beside the forecast.
"""

from __future__ import annotations

import base64
import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pandas as pd
import requests

from . import contract
from .errors import StepFailed, UsageError
from .smoke import headers, refused_key, validate_uri

INTERVAL = contract.INTERVAL_EXAMPLE
HISTORY_DAYS = 84
TEMPLATES = Path(__file__).resolve().parent / "templates"


def request_body(steps: int, interval: bool = True) -> dict:
    return {"steps": steps, "interval": INTERVAL} if interval else {"steps": steps}


def score(uri: str, steps: int, key: str | None = None) -> dict:
    """POST the report's request, again without `interval` when the endpoint refuses it (an endpoint
    without intervals may: the contract allows it); a 4xx is the caller's mistake (UsageError),
    anything else a failed step."""
    response, body = _post(uri, request_body(steps), key)
    if 400 <= response.status_code < 500 and not refused_key(response.status_code, bool(key)):
        response, body = _post(uri, request_body(steps, interval=False), key)
    if (refused := refused_key(response.status_code, bool(key))):
        raise UsageError(refused)
    if 400 <= response.status_code < 500:
        reason = body.get("error") if isinstance(body, dict) else response.text[:200]
        raise UsageError(f"the endpoint refused the request: {reason}")
    if response.status_code != 200 or not isinstance(body, dict) or "forecast" not in body:
        raise StepFailed(f"the endpoint at {uri} answered {response.status_code} without a forecast")
    return body


def _post(uri: str, request: dict, key: str | None) -> tuple[requests.Response, object]:
    try:
        response = requests.post(uri, json=request, headers=headers(key), timeout=(5, 30))
    except requests.RequestException as err:
        raise StepFailed(f"cannot reach the endpoint at {uri} ({type(err).__name__}); is it deployed?") from None
    try:
        return response, response.json()
    except ValueError:
        return response, None


def _chart(actuals: pd.Series | None, forecast: pd.DataFrame) -> str:
    """The chart as a base64 PNG: recent actuals, the forecast and its interval band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    try:
        if actuals is not None and len(actuals):
            ax.plot(actuals.index, actuals.to_numpy(), color="#555555", linewidth=1.2, label="actual (daily mean)")
        ax.plot(forecast.index, forecast["forecast"], color="#0a6ebd", linewidth=2, label="forecast")
        if "lower" in forecast:
            ax.fill_between(forecast.index, forecast["lower"], forecast["upper"], color="#0a6ebd", alpha=0.18,
                            label=f"{INTERVAL:.0%} interval")
        ax.set_ylabel("PaidAmount (daily mean)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def recent(series: pd.Series | None, first_forecast_day: pd.Timestamp, last_forecast_day: pd.Timestamp) -> pd.Series | None:
    """The actuals worth drawing: `HISTORY_DAYS` before the forecast, and any days it covers."""
    if series is None:
        return None
    start = first_forecast_day - pd.Timedelta(days=HISTORY_DAYS)
    return series[(series.index >= start) & (series.index <= last_forecast_day)]


def render(body: dict, uri: str, steps: int, actuals: pd.Series | None, scored_at: datetime) -> str:
    frame = pd.DataFrame({k: body[k] for k in ("forecast", "lower", "upper") if k in body},
                         index=pd.to_datetime(body["dates"]))
    rows = [{"date": f"{day:%Y-%m-%d}", "weekday": f"{day:%a}", "forecast": row["forecast"],
             "lower": row.get("lower"), "upper": row.get("upper"),
             "actual": actuals.get(day) if actuals is not None else None}
            for day, row in frame.iterrows()]
    overlap = actuals is not None and any(r["actual"] is not None for r in rows)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2").render(
        model=body.get("model", {}), uri=uri, steps=steps, interval=body.get("interval"),
        request=request_body(steps), scored_at=f"{scored_at:%Y-%m-%d %H:%M:%S} UTC", rows=rows,
        overlap=overlap, chart=_chart(actuals, frame),
        history=(f"{actuals.index[0]:%Y-%m-%d}..{actuals.index[-1]:%Y-%m-%d}" if actuals is not None and len(actuals)
                 else None),
        first=rows[0]["date"], last=rows[-1]["date"],
        total=sum(r["forecast"] for r in rows),
    )


def write(uri: str, out: str | Path, steps: int = 30, actuals: pd.Series | None = None,
          key: str | None = None) -> Path:
    """Score `steps` days through the endpoint at `uri` and write the HTML report to `out`."""
    if not 1 <= steps <= contract.MAX_STEPS:
        raise UsageError(f"--steps {steps} is outside 1..{contract.MAX_STEPS}")
    body = score(validate_uri(uri), steps, key)
    scored_at = datetime.now(UTC)
    dates = pd.to_datetime(body["dates"])
    html = render(body, uri, steps, recent(actuals, dates[0], dates[-1]), scored_at)
    path = Path(out)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write the report to {path}: {err.strerror or err}") from None
    return path
