from django.urls import path

from casefile.evidence import views

app_name = "evidence"
urlpatterns = [
    path("", views.evidence_list, name="list"),
    path("upload/", views.evidence_upload, name="upload"),
    path("<str:blob_id>/", views.blob_page, name="blob"),
    path("<str:blob_id>/redacted/", views.blob_redacted, name="redacted"),
    path("<str:blob_id>/shred/", views.blob_shred, name="shred"),
]
