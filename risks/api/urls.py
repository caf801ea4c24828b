from django.urls import path

from risks.api import views

urlpatterns = [
    path("risks/", views.RiskListCreateView.as_view(), name="risk-list"),
    # Before risks/<reference>/, which would otherwise take "heatmap" for a reference.
    path("risks/heatmap/", views.HeatmapView.as_view(), name="risk-heatmap"),
    path("risks/<str:reference>/", views.RiskDetailView.as_view(), name="risk-detail"),
    path("risks/<str:reference>/history/", views.RiskHistoryView.as_view(), name="risk-history"),
    path("risks/<str:reference>/accept/", views.RiskAcceptView.as_view(), name="risk-accept"),
    path("risks/<str:reference>/review/", views.RiskReviewView.as_view(), name="risk-review"),
    path("risks/<str:reference>/close/", views.RiskCloseView.as_view(), name="risk-close"),
    path("risks/<str:reference>/reopen/", views.RiskReopenView.as_view(), name="risk-reopen"),
    path("risks/<str:reference>/actions/", views.RiskActionsView.as_view(), name="risk-actions"),
    path(
        "risks/<str:reference>/actions/<int:action_id>/",
        views.RiskActionDetailView.as_view(),
        name="risk-action-detail",
    ),
    path("controls/", views.ControlListCreateView.as_view(), name="control-list"),
    path("controls/<str:reference>/", views.ControlDetailView.as_view(), name="control-detail"),
    path("controls/<str:reference>/documents/", views.ControlDocumentsView.as_view(), name="control-documents"),
    path(
        "controls/<str:reference>/metric-checks/", views.ControlMetricChecksView.as_view(), name="control-metric-checks"
    ),
    path("incidents/", views.IncidentListCreateView.as_view(), name="incident-list"),
    path("incidents/<str:reference>/", views.IncidentDetailView.as_view(), name="incident-detail"),
    path("incidents/<str:reference>/examples/", views.IncidentExamplesView.as_view(), name="incident-examples"),
    path("incidents/<str:reference>/evidence/", views.IncidentEvidenceView.as_view(), name="incident-evidence"),
    path("incidents/<str:reference>/close/", views.IncidentCloseView.as_view(), name="incident-close"),
]
