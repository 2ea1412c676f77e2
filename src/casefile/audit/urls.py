from django.urls import path

from casefile.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.entries, name="entries"),
    path("<str:entry_id>/", views.entry, name="entry"),
]
