"""The scenario's client (`make scenario`, `make bench`, `make test-scale`): the users' calls reach a service as
requests would have sent them (query, JSON body, file upload, bearer token), an unexpected answer fails with its
status and text, and a call that gets no answer raises what the waits wait out."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from scenario.client import TRANSPORT_ERRORS, Client, ScenarioFailed


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


@Request.application
def echo(request: Request) -> Response:
    if request.path == "/token":
        return _json({"access_token": "token-of-" + request.get_json()["username"]})
    if request.path == "/refused":
        return _json({"title": "Conflict", "detail": "已截止"}, status=409)
    if request.path == "/moved":
        return Response("", status=302, headers={"Location": "/elsewhere"})
    return _json(
        {
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(flat=False),
            "authorization": request.headers.get("Authorization"),
            "content_type": request.mimetype,
            "json": request.get_json(silent=True),
            "files": {name: [f.filename, f.read().decode()] for name, f in request.files.items()},
        }
    )


@pytest.fixture
def client() -> Iterator[Client]:
    server = make_server("127.0.0.1", 0, echo, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    found = Client(timeout=5)
    found.url = lambda service, path: base + path  # type: ignore[method-assign]
    yield found
    server.shutdown()


def test_a_query_is_encoded_as_requests_encodes_it_and_the_user_logs_in_once(client: Client) -> None:
    answer = client.call(
        "unit",
        "GET",
        "review",
        "/api/v1/tasks?per_page=5",
        params={"stage": "单位审核", "status": ["ready", "claimed"], "x": None},
    )
    assert answer["query"] == {"per_page": ["5"], "stage": ["单位审核"], "status": ["ready", "claimed"]}
    assert answer["authorization"] == "Bearer token-of-unit"
    assert client.tokens == {"unit": "token-of-unit"}


def test_a_json_body_keeps_its_nulls(client: Client) -> None:
    answer = client.call(
        "unit", "POST", "review", "/api/v1/tasks/1/complete", json={"decision": "approve", "reason": None}
    )
    assert answer["method"] == "POST"
    assert answer["content_type"] == "application/json"
    assert answer["json"] == {"decision": "approve", "reason": None}


def test_a_file_is_uploaded_as_multipart_form_data(client: Client) -> None:
    answer = client.call(
        "applicant", "POST", "profile", "/api/v1/profile/attachments", files={"file": ("证书.pdf", b"%PDF-1.7 ...")}
    )
    assert answer["content_type"] == "multipart/form-data"
    assert answer["files"] == {"file": ["证书.pdf", "%PDF-1.7 ..."]}


def test_an_unexpected_answer_fails_with_its_status_and_text_and_a_redirect_is_not_followed(client: Client) -> None:
    with pytest.raises(ScenarioFailed, match="answered 409: .*已截止"):
        client.call("unit", "POST", "review", "/refused")
    assert client.call("unit", "POST", "review", "/refused", expect=(409,))["detail"] == "已截止"
    with pytest.raises(ScenarioFailed, match="GET review/moved answered 302"):
        client.call("unit", "GET", "review", "/moved")


def test_a_call_nobody_answers_raises_what_the_waits_wait_out() -> None:
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = Client(timeout=2)
    nobody.url = lambda service, path: f"http://127.0.0.1:{port}{path}"  # type: ignore[method-assign]
    with pytest.raises(TRANSPORT_ERRORS):
        nobody.call("unit", "GET", "review", "/api/v1/tasks")
