from django.urls import path

from registry.api import views

# Version labels may contain dots, so they are matched as path segments, not slugs.
urlpatterns = [
    path("models/", views.ModelListCreateView.as_view(), name="model-list"),
    path("models/<str:name>/", views.ModelDetailView.as_view(), name="model-detail"),
    path("models/<str:name>/history/", views.ModelHistoryView.as_view(), name="model-history"),
    path("models/<str:name>/gate-policy/", views.GatePolicyView.as_view(), name="gate-policy"),
    path("models/<str:name>/rollback/", views.RollbackView.as_view(), name="rollback"),
    path("models/<str:name>/deployments/", views.DeploymentsView.as_view(), name="deployments"),
    path("models/<str:name>/versions/", views.ModelVersionListCreateView.as_view(), name="version-list"),
    path("models/<str:name>/versions/<str:version>/", views.VersionDetailView.as_view(), name="version-detail"),
    path(
        "models/<str:name>/versions/<str:version>/evaluations/",
        views.EvaluationListCreateView.as_view(),
        name="evaluation-list",
    ),
    path("models/<str:name>/versions/<str:version>/gate/", views.GateView.as_view(), name="version-gate"),
    path("models/<str:name>/versions/<str:version>/card/", views.ModelCardView.as_view(), name="version-card"),
    path(
        "models/<str:name>/versions/<str:version>/promotions/",
        views.VersionPromotionsView.as_view(),
        name="promotion-list",
    ),
    path(
        "models/<str:name>/versions/<str:version>/promotions/<int:promotion_id>/approve/",
        views.PromotionApproveView.as_view(),
        name="promotion-approve",
    ),
    path(
        "models/<str:name>/versions/<str:version>/promotions/<int:promotion_id>/reject/",
        views.PromotionRejectView.as_view(),
        name="promotion-reject",
    ),
    path(
        "models/<str:name>/versions/<str:version>/fine-tune/",
        views.FineTuneLaunchView.as_view(),
        name="fine-tune-launch",
    ),
    path(
        "models/<str:name>/versions/<str:version>/serving-deployment/",
        views.ServingDeploymentView.as_view(),
        name="serving-deployment",
    ),
    path(
        "models/<str:name>/versions/<str:version>/checkpoints/",
        views.CheckpointListView.as_view(),
        name="checkpoint-list",
    ),
    path(
        "models/<str:name>/versions/<str:version>/history/",
        views.VersionHistoryView.as_view(),
        name="version-history",
    ),
    path("versions/", views.VersionSearchView.as_view(), name="version-search"),
    path("lifecycle/", views.LifecycleView.as_view(), name="lifecycle"),
    path("lifecycle/migrations/", views.MigrationView.as_view(), name="lifecycle-migrations"),
]
