from django.urls import path

from sbs.api import views

# Under the registry's version URLs; version labels may contain dots, so they are path segments.
RUNS = "models/<str:name>/versions/<str:version>/sbs-runs/"

urlpatterns = [
    path(RUNS, views.SbsRunListCreateView.as_view(), name="sbs-run-list"),
    path(f"{RUNS}<int:run_id>/", views.SbsRunDetailView.as_view(), name="sbs-run-detail"),
    path(f"{RUNS}<int:run_id>/items/", views.SbsRunItemListView.as_view(), name="sbs-run-items"),
    path(f"{RUNS}<int:run_id>/compare/", views.SbsRunCompareView.as_view(), name="sbs-run-compare"),
]
