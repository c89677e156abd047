"""The OpenAPI document and the response models of ui/schemas.py against real responses.

Every /api/* route documents its request and response with Chinese descriptions and examples, and every field a
real response carries is documented (so a field the tools add shows up here, not as a surprise to clients)."""
from __future__ import annotations

import os
import re
import typing

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from policy_assistant.settings import Settings
from ui import harness, schemas
from ui.app import create_app

pytestmark = pytest.mark.slow

CJK = re.compile(r"[\u4e00-\u9fff]")
PROFILE = {"location": {"province": "福建省", "city": "厦门市", "district": "思明区"}, "legal_person": True,
           "facts": {"compute_purchase_yuan": "80万"}}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    shared = harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("schema-data"))
    settings = Settings.from_env().model_copy(update={"data_dir": data, "llm_base_url": None, "llm_model": None,
                                                      "rate_limit_per_minute": 0})
    with TestClient(create_app(settings, gradio=False)) as c:
        yield c


def _model_of(annotation) -> type[BaseModel] | None:
    """The model inside an annotation such as `list[Citation]` or `Validity | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (model := _model_of(arg)) is not None:
            return model
    return None


def undocumented(data, model: type[BaseModel], path: str = "") -> list[str]:
    """Keys in `data` that `model` (recursively) does not name."""
    if isinstance(data, list):
        return [k for item in data for k in undocumented(item, model, path + "[]")]
    if not isinstance(data, dict):
        return []
    found = [f"{path}.{key}" for key in data if key not in model.model_fields]
    for name, field in model.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None and data.get(name) is not None:
            found += undocumented(data[name], sub, f"{path}.{name}")
    return found


def check(resp, model: type[BaseModel], *, many: bool = False):
    assert resp.status_code == 200, resp.text
    data = resp.json()
    for item in (data if many else [data]):
        model.model_validate(item)
    missing = undocumented(data, model)
    assert not missing, f"fields not documented in ui/schemas.py {model.__name__}: {sorted(set(missing))}"
    return data


def test_responses_match_their_documented_models(client):
    calc = check(client.post("/api/calculate", json={"program_id": "xm-compute-voucher",
                                                     "facts": {"compute_purchase_yuan": "80万"}}), schemas.Calculation)
    assert calc["amount_yuan"] == 400_000
    check(client.post("/api/eligibility", json={"profile": PROFILE}), schemas.EligibilityReport)
    check(client.get("/api/programs"), schemas.ProgramSummary, many=True)
    assert {p["id"] for p in check(client.get("/api/programs", params={"region": "思明"}), schemas.ProgramSummary,
                                   many=True)} >= {"sm-compute"}
    check(client.get("/api/programs/sm-digital-transform/inputs"), schemas.ProgramInputs)
    check(client.get("/api/clauses/xm-measures:1.3"), schemas.Citation)
    check(client.get("/api/documents"), schemas.DocumentOverview, many=True)
    check(client.get("/api/search", params={"q": "租GPU训练大模型能补多少", "k": 3}), schemas.SearchResult)
    answer = check(client.post("/api/chat", json={"question": "厦门企业去年购买算力花了80万元，最高能补多少？"}), schemas.Answer)
    check(client.get(f"/api/sessions/{answer['session_id']}"), schemas.SessionHistory)
    check(client.post("/api/feedback", json={"rating": "up", "turn_id": answer["turn_id"]}), schemas.FeedbackAck)
    check(client.get("/healthz"), schemas.Health)
    for resp in (client.get("/api/clauses/nope:1"), client.get("/api/programs/nope/inputs"),
                 client.post("/api/calculate", json={})):
        assert resp.status_code in (404, 422)
        check_error = schemas.ErrorBody.model_validate(resp.json())
        assert CJK.search(check_error.message)


def _schema_models(spec: dict, schema: dict) -> list[dict]:
    """The component schemas a response or request schema refers to (directly or as array items)."""
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
    return [spec["components"]["schemas"][ref.rsplit("/", 1)[1]]] if ref else []


def test_every_api_route_documents_request_and_response_in_chinese(client):
    spec = client.get("/openapi.json").json()
    routes = [(path, method, op) for path, ops in spec["paths"].items() if path.startswith("/api/")
              for method, op in ops.items()]
    assert len(routes) >= 10
    for path, method, op in routes:
        where = f"{method.upper()} {path}"
        assert CJK.search(op.get("summary", "")), where
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        models = _schema_models(spec, ok)
        assert models, f"{where}: no response model"
        for model in models:
            assert model.get("examples"), f"{where}: response model {model.get('title')} has no example"
            for name, prop in model["properties"].items():
                assert CJK.search(prop.get("description", "")), f"{where}: {model.get('title')}.{name} undescribed"
        for status, response in op["responses"].items():
            if status != "200":
                error = response["content"]["application/json"]["schema"]["$ref"]
                assert error.endswith("/ErrorBody"), f"{where} {status}: {error}"
        for param in op.get("parameters", []):
            assert CJK.search(param.get("description", "")), f"{where}: parameter {param['name']} undescribed"
        if method == "post":
            body = op["requestBody"]["content"]["application/json"]["schema"]
            (request,) = _schema_models(spec, body)
            assert request.get("examples"), f"{where}: request model has no example"
            for name, prop in request["properties"].items():
                assert CJK.search(prop.get("description", "")), f"{where}: request field {name} undescribed"


def test_request_examples_are_valid_requests(client):
    """The examples /docs offers work as they stand (the calculator example computes an amount)."""
    for example in schemas.CalculateRequest.model_config["json_schema_extra"]["examples"]:
        resp = client.post("/api/calculate", json=example)
        assert resp.status_code == 200 and resp.json()["amount_yuan"] is not None, (example, resp.text)
    for example in schemas.EligibilityRequest.model_config["json_schema_extra"]["examples"]:
        assert client.post("/api/eligibility", json=example).status_code == 200
    first = schemas.ChatRequest.model_config["json_schema_extra"]["examples"][0]
    assert client.post("/api/chat", json=first).json()["status"] == "answered"
