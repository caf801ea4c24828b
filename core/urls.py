from django.urls import path

from core import token_api
from core.api_index import ApiIndexView

urlpatterns = [
    path("", ApiIndexView.as_view(), name="api-index"),
    path("tokens/", token_api.TokenListCreateView.as_view(), name="token-list"),
    path("tokens/<int:token_id>/revoke/", token_api.TokenRevokeView.as_view(), name="token-revoke"),
]
