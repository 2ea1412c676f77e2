"""Signing in and out of the console (session login; the API uses Bearer tokens)."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.views.decorators.debug import sensitive_post_parameters


class SignInForm(AuthenticationForm):
    error_messages = {
        # The same words for a wrong password and a throttled address: no oracle either way.
        "invalid_login": "Wrong e-mail or password, or too many recent attempts.",
        "inactive": "This account is disabled.",
    }


sign_in = sensitive_post_parameters("password")(auth_views.LoginView.as_view(
    template_name="accounts/login.html", authentication_form=SignInForm,
    redirect_authenticated_user=True))
sign_out = auth_views.LogoutView.as_view()
