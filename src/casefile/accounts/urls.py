from django.urls import path

from casefile.accounts import factor_views, oidc_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.sign_in, name="login"),
    # Through the company's identity provider (accounts.oidc_views); 404 when none is set.
    path("login/oidc/", oidc_views.oidc_start, name="oidc_start"),
    path("login/oidc/callback/", oidc_views.oidc_callback, name="oidc_callback"),
    path("logout/", views.sign_out, name="logout"),
    path("logout/everywhere/", views.sign_out_everywhere, name="logout_everywhere"),
    # Second factors (accounts.factor_views): one's own, proving one, enrolment links.
    path("account/factors/", factor_views.factors_page, name="factors"),
    path("account/factors/totp/", factor_views.totp_enrol, name="totp_enrol"),
    path("account/factors/webauthn/options/", factor_views.webauthn_register_options,
         name="webauthn_register_options"),
    path("account/factors/webauthn/verify/", factor_views.webauthn_register_verify,
         name="webauthn_register_verify"),
    path("account/factors/<str:factor>/<int:factor_id>/remove/", factor_views.factor_remove,
         name="factor_remove"),
    path("account/verify/", factor_views.verify, name="verify"),
    path("account/verify/webauthn/options/", factor_views.verify_webauthn_options,
         name="verify_webauthn_options"),
    path("account/verify/webauthn/", factor_views.verify_webauthn, name="verify_webauthn"),
    path("account/enrol/<str:token>/", factor_views.enrol, name="enrol"),
]
