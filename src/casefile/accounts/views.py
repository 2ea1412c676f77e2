"""Signing in and out of the console (session login; the API uses Bearer tokens)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from casefile.accounts import sessions


class SignInForm(AuthenticationForm):
    error_messages = {
        # The same words for a wrong password and a throttled address: no oracle either way.
        "invalid_login": "Wrong e-mail or password, or too many recent attempts.",
        "inactive": "This account is disabled.",
    }


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)  # logs in (a new session key)
        sessions.session_begin(self.request, form.get_user(), method="password")
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        email = str(form.data.get("username", "")).strip().lower()
        if email:
            sessions.sign_in_failed(self.request, email_or_subject=email,
                                    reason="wrong e-mail or password, or throttled")
        return super().form_invalid(form)


sign_in = sensitive_post_parameters("password")(SignInView.as_view())


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    sessions.session_end(request, why="signed out")
    return redirect(settings.LOGOUT_REDIRECT_URL or "accounts:login")


@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """Your own lost laptop or leaked token: every session (this one too) and every token."""
    from casefile.accounts.access import actor_of
    from casefile.core.errors import NotAuthenticated

    try:
        actor = actor_of(request)
    except NotAuthenticated:
        return redirect("accounts:login")
    sessions.staff_sign_out_everywhere(actor=actor, user=actor.staff_user)
    return redirect("accounts:login")
