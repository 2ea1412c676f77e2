from django.urls import path

from casefile.holds import views

app_name = "holds"
urlpatterns = [
    path("", views.hold_list, name="list"),
    path("place/", views.hold_place, name="place"),
    path("<str:hold_id>/", views.hold_page, name="hold"),
    path("<str:hold_id>/release/", views.hold_release, name="release"),
]
