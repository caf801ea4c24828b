"""/api/v1/tokens/: people issue, list and revoke their own API tokens; compliance lists and revokes any."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from core import selectors, services
from core.api import StableCursorPagination
from core.models import ApiToken
from core.roles import READERS
from core.serializers import StrictInputSerializer, validated


class TokenSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    issued_by = serializers.SlugRelatedField(
        source="created_by", slug_field="username", read_only=True, allow_null=True
    )
    state = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "prefix",
            "name",
            "user",
            "issued_by",
            "issued_via",
            "created_at",
            "expires_at",
            "last_used_at",
            "expiry_notified_at",
            "revoked_at",
            "state",
        ]

    def get_state(self, token: ApiToken) -> str:
        return selectors.token_state(token)


class IssuedTokenSerializer(TokenSerializer):
    secret = serializers.CharField(help_text="The token itself: shown in this answer only, never again.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "secret"]


class TokenIssueSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, help_text="Default and latest: API_TOKEN_TTL_DAYS from now.")


class TokenRevokeSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


class TokenListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": READERS}
    serializer_class = TokenSerializer
    pagination_class = StableCursorPagination

    @extend_schema(
        summary="List API tokens: your own (compliance: everyone's)",
        parameters=[OpenApiParameter("user", str, description="Compliance only: one user's tokens.")],
        responses={200: TokenSerializer(many=True)},
    )
    def get(self, request):
        username = request.query_params.get("user") or None
        page = self.paginate_queryset(selectors.token_list(actor=request.user, username=username))
        return self.get_paginated_response(TokenSerializer(page, many=True).data)

    @extend_schema(
        summary="Issue yourself a token (its secret is in this answer only)",
        description="A token is only ever issued to the person who will use it. Service accounts get theirs "
        "from an operator (`manage.py issue_token`): 403 here.",
        request=TokenIssueSerializer,
        responses={201: IssuedTokenSerializer},
    )
    def post(self, request):
        data = validated(TokenIssueSerializer, request.data)
        issued = services.token_issue(user=request.user, issued_by=request.user, via="API", **data)
        body = {**TokenSerializer(issued.token).data, "secret": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRevokeView(generics.GenericAPIView):
    roles = {"POST": READERS}
    serializer_class = TokenSerializer

    @extend_schema(
        summary="Revoke a token: your own (compliance: anyone's)",
        request=TokenRevokeSerializer,
        responses={200: TokenSerializer},
    )
    def post(self, request, token_id: int):
        token = selectors.token_get(actor=request.user, token_id=token_id)
        data = validated(TokenRevokeSerializer, request.data)
        revoked = services.token_revoke(token=token, actor=request.user, reason=data["reason"])
        return Response(TokenSerializer(revoked).data)
