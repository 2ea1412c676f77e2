from django.urls import path

from casefile.trust import moderation_views as views

app_name = "moderation"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("items/<str:mod_id>/", views.item, name="item"),
    path("items/<str:mod_id>/review/", views.review, name="review"),
    path("rules/", views.rules, name="rules"),
    path("rules/draft/", views.draft_save, name="draft_save"),
    path("rules/<int:version>/publish/", views.publish, name="publish"),
]
