from django.urls import path

from datasets.api import views

urlpatterns = [
    path("datasets/", views.DatasetListCreateView.as_view(), name="dataset-list"),
    path("datasets/<str:sha256>/", views.DatasetDetailView.as_view(), name="dataset-detail"),
    path("datasets/<str:sha256>/check/", views.DatasetCheckView.as_view(), name="dataset-check"),
]
