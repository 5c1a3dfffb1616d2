"""The Power Query script sends exactly the request of the endpoint contract — the same request as
`wth report` — and reads the fields of its answer. The M script is parsed here, not run (Power BI Desktop is Windows-only)."""

import json
import re

from docs_tools import REPO_ROOT

SCRIPT = REPO_ROOT / "resources" / "powerbi" / "Forecast.pq"


def let_bindings(text: str) -> dict[str, str]:
    """`Name = expression` of the script's `let` block (a binding may span lines)."""
    body = re.sub(r"^\s*//[^\n]*", "", text, flags=re.M).split("let", 1)[1].rsplit("\nin", 1)[0]
    parts = re.split(r",\s*\n\s*(?=[A-Za-z_]\w*\s*=)", body.strip())
    return dict(re.match(r"([A-Za-z_]\w*)\s*=\s*(.*)", part, flags=re.S).groups() for part in parts)


def m_value(expression: str, bindings: dict[str, str]):
    """An M literal (number, text) or the name of a binding that holds one."""
    expression = expression.strip()
    if expression in bindings:
        return m_value(bindings[expression], bindings)
    if re.fullmatch(r"-?\d+", expression):
        return int(expression)
    if re.fullmatch(r"-?\d+\.\d+", expression):
        return float(expression)
    if re.fullmatch(r'"[^"]*"', expression):
        return expression[1:-1]
    raise AssertionError(f"not a literal: {expression}")


def request_body(bindings: dict[str, str]) -> dict:
    """The JSON body: the record passed to Json.FromValue as the Content of Web.Contents."""
    call = next(v for v in bindings.values() if "Web.Contents(" in v)
    record = re.search(r"Content\s*=\s*Json\.FromValue\(\[(.*?)\]\)", call, flags=re.S).group(1)
    fields = [f.split("=", 1) for f in record.split(",")]
    return {name.strip(): m_value(value, bindings) for name, value in fields}


def test_the_request_body_is_the_endpoint_contract_and_the_reports_request():
    from wth import analyst_report

    bindings = let_bindings(SCRIPT.read_text())
    body = request_body(bindings)
    assert isinstance(body["steps"], int) and 1 <= body["steps"] <= 365
    assert json.dumps(body) == '{"steps": 30, "interval": 0.9}'
    assert body == analyst_report.request_body(30)


def test_the_request_is_a_json_post_to_the_scoring_uri():
    bindings = let_bindings(SCRIPT.read_text())
    call = bindings["Response"]
    assert call.startswith("Web.Contents(ScoringUri,")  # Content = ... makes Web.Contents POST
    assert m_value("ScoringUri", bindings).endswith("/score")
    assert '#"Content-Type" = "application/json"' in bindings["Headers"]


def test_the_answer_is_read_by_the_contract_field_names():
    text = SCRIPT.read_text()
    read = set(re.findall(r"Result\[(\w+)\]", text))
    assert read == {"dates", "forecast", "lower", "upper", "model"}  # a 200 answer's fields, with an interval


def test_the_request_validates_against_the_endpoints_own_openapi_schema():
    """The entry script publishes its contract as OpenAPI; the script's body must fit the `steps` form."""
    from openapi_schema_validator import OAS30Validator

    from wth import contract

    post = contract.openapi()["paths"]["/score"]["post"]
    steps_form = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert "interval" in steps_form["properties"]
    body = request_body(let_bindings(SCRIPT.read_text()))
    OAS30Validator(steps_form).validate(body)  # the document is OpenAPI 3.0: its own schema dialect
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert set(re.findall(r"Result\[(\w+)\]", SCRIPT.read_text())) <= set(answer)
