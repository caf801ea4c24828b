from django.urls import path

from datasets.api import views

urlpatterns = [
    path("datasets/", views.DatasetListCreateView.as_view(), name="dataset-list"),
    path("datasets/<str:sha256>/", views.DatasetDetailView.as_view(), name="dataset-detail"),
    path("datasets/<str:sha256>/check/", views.DatasetCheckView.as_view(), name="dataset-check"),
    path("golden-sets/", views.GoldenSetListView.as_view(), name="golden-set-list"),
    path("golden-sets/<str:name>/", views.GoldenSetDetailView.as_view(), name="golden-set-detail"),
    path("golden-sets/<str:name>/versions/", views.GoldenVersionUploadView.as_view(), name="golden-version-list"),
    path(
        "golden-sets/<str:name>/versions/<int:number>/",
        views.GoldenVersionDetailView.as_view(),
        name="golden-version-detail",
    ),
    path(
        "golden-sets/<str:name>/versions/<int:number>/items/",
        views.GoldenItemListView.as_view(),
        name="golden-version-items",
    ),
]
