from django.contrib import admin
from django.urls import path

from casefile.core.api import api
from casefile.core.views import not_found, server_error

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

handler404 = not_found
handler500 = server_error
