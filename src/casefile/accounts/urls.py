from django.urls import path

from casefile.accounts import oidc_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.sign_in, name="login"),
    # Through the company's identity provider (accounts.oidc_views); 404 when none is set.
    path("login/oidc/", oidc_views.oidc_start, name="oidc_start"),
    path("login/oidc/callback/", oidc_views.oidc_callback, name="oidc_callback"),
    path("logout/", views.sign_out, name="logout"),
    path("logout/everywhere/", views.sign_out_everywhere, name="logout_everywhere"),
]
