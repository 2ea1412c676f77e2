from django.urls import path

from casefile.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("logout/everywhere/", views.sign_out_everywhere, name="logout_everywhere"),
]
