"""The API runs without a browser's session, user or messages (core.middleware); the admin keeps all three."""

from __future__ import annotations

from django.test import Client

from registry.models import RegisteredModel
from tests.conftest import client_for, model_payload


def test_a_session_logged_into_the_admin_is_no_credential_on_the_api(compliance):
    client = Client()
    client.force_login(compliance)
    assert client.get("/admin/").status_code == 200  # the session works where it belongs

    for method, path in (("get", "/api/v1/models/"), ("post", "/api/v1/models/")):
        response = getattr(client, method)(path, model_payload(), content_type="application/json")
        assert response.status_code == 401, response.content
    assert not RegisteredModel.objects.exists()


def test_the_api_acts_as_the_tokens_user_and_not_as_the_sessions(engineer, compliance):
    client = client_for(engineer)
    client.force_login(compliance)  # the same client also carries a compliance officer's session cookie

    response = client.post("/api/v1/models/", model_payload(name="token-user"), format="json")

    assert response.status_code == 201, response.json()
    created = RegisteredModel.objects.get(name="token-user")
    assert created.history.get().history_user == engineer


def test_the_api_neither_reads_nor_writes_a_session(engineer):
    response = client_for(engineer).get("/api/v1/models/")

    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")
    assert "sessionid" not in response.cookies and "messages" not in response.cookies
    assert not hasattr(response.wsgi_request, "session") and not hasattr(response.wsgi_request, "_messages")
    # The headers the rest of the stack sets are still set.
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_the_admin_still_has_its_session_user_and_messages(compliance):
    client = Client()
    client.force_login(compliance)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert response.wsgi_request.user == compliance
    assert hasattr(response.wsgi_request, "session") and hasattr(response.wsgi_request, "_messages")
