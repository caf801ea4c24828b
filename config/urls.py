from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api import api_not_found
from registry.webhooks import openai_webhook

urlpatterns = [
    # What this is and where to go: the admin, the API docs, the API index and the schema.
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("core.urls")),
    path("api/v1/", include("registry.api.urls")),
    path("api/v1/", include("sbs.api.urls")),
    path("api/v1/", include("risks.api.urls")),
    path("api/v1/", include("reports.api.urls")),
    path("api/v1/", include("datasets.api.urls")),
    path("webhooks/openai/", openai_webhook, name="openai-webhook"),
    re_path(r"^api/", api_not_found),
]
