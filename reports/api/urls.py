from django.urls import path

from reports.api import views

urlpatterns = [
    path("reports/", views.ReportListView.as_view(), name="report-list"),
    path("reports/<str:period>/", views.ReportDetailView.as_view(), name="report-detail"),
    path("reports/<str:period>/pdf/", views.ReportPdfView.as_view(), name="report-pdf"),
]
