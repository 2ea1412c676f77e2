from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from casefile.accounts import services
from casefile.audit.actor import client_ip


class ThrottledEmailBackend(ModelBackend):
    """E-mail and password, refused without trying the password while the account, the client's
    address, or the pair of them has failed too often (`services.login_throttled` says which
    limits and why). The address is the client's behind trusted proxies (`client_ip`), so one
    person's typos behind the office proxy do not lock out everyone behind it.

    Raising PermissionDenied stops Django trying other backends and makes `authenticate`
    return None, so a throttled sign-in looks like any other failure to the client.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = (username or kwargs.get("email") or "").strip().lower()
        if not email or password is None or len(email) > 254 or "\x00" in email:
            return None
        ip = client_ip(request) if request is not None else None
        if services.login_throttled(email=email, ip_address=ip):
            raise PermissionDenied("too many failed sign-ins; try again later")
        user = super().authenticate(request, username=email, password=password, **kwargs)
        if user is None:
            services.login_failure_record(email=email, ip_address=ip)
        else:
            services.login_succeeded(user=user, ip_address=ip)
        return user

    def user_can_authenticate(self, user):
        return getattr(user, "is_active", False)
