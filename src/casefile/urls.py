from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from casefile.core.api import api
from casefile.core.views import forbidden, not_found, server_error
from casefile.documents.signing_views import provider_webhook, signing_urls

urlpatterns = [
    # A plain view before the API's: the body is read raw and answered as the provider wants.
    path("api/v1/documents/webhooks/<str:provider>", provider_webhook,
         name="documents-provider-webhook"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="cases:queue"), name="home"),
    path("", include("casefile.accounts.urls")),
    path("cases/", include("casefile.cases.urls")),
    path("events/", include("casefile.events.urls")),
    path("platform/", include("casefile.platform.urls")),
    path("audit/", include("casefile.audit.urls")),
    path("evidence/", include("casefile.evidence.urls")),
    path("holds/", include("casefile.holds.urls")),
    path("trust/", include("casefile.trust.urls")),
    path("moderation/", include("casefile.trust.moderation_urls")),
    path("webhooks/", include("casefile.webhooks.urls")),
    path("documents/", include("casefile.documents.urls")),
    path("sign/", include((signing_urls, "signing"))),  # a local signing link: no login
]

handler403 = forbidden
handler404 = not_found
handler500 = server_error
