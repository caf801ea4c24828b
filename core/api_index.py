"""GET /api/v1/: what the API holds, one entry per collection, with the docs and the schema.

Open to anyone, like the docs and the schema: it names the collections, never their records.
tests/core/test_landing_and_api_index.py checks that every collection the URLconf serves is listed.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# URL name -> what a person finds there. Only collections (routes without a parameter).
RESOURCES = {
    "model-list": "Registered models: their purpose, owners, risk tier, provider and gate policy.",
    "version-search": "Model versions across models, filterable by model, status and evaluation metrics.",
    "lifecycle": "Days left before each model's, version's and live deployment's base model shuts down.",
    "lifecycle-migrations": "Where each retiring deployment can move to, and whether the candidates pass the gate.",
    "risk-list": "The AI risk register: scores, owners, reviews, acceptances and treatment actions.",
    "risk-heatmap": "Open risks per cell of the likelihood x impact matrix, inherent and residual.",
    "control-list": "Controls, their evidence and metric checks, and whether they are breached.",
    "incident-list": "Incidents, their examples and their reporting clocks.",
    "report-list": "The monthly reports for executives and every revision's SHA-256 (Executives, Compliance).",
    "dataset-list": "Training, validation and golden files by SHA-256, and their pre-check.",
    "golden-set-list": "Golden sets and their versions, for side-by-side runs.",
    "token-list": "Your API tokens (Compliance: everyone's); issue and revoke them.",
}


class ApiIndexView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="What the API holds")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": "Fineprint API",
                "version": "v1",
                "docs": reverse("api-docs", request=request),
                "schema": reverse("schema", request=request),
                "authentication": "Authorization: Bearer <token>; issue one in the admin (API tokens) "
                "or with manage.py issue_token USERNAME.",
                "resources": {
                    name: {"url": reverse(name, request=request), "description": description}
                    for name, description in RESOURCES.items()
                },
            }
        )
