from django.urls import path

from casefile.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("", views.log, name="log"),
    path("<str:delivery_id>/", views.delivery, name="delivery"),
]
