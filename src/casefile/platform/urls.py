from django.urls import path

from casefile.platform import views

app_name = "platform"
urlpatterns = [
    path("tenants/", views.tenants, name="tenants"),
    path("tenants/<str:tenant_id>/", views.tenant_page, name="tenant"),
    path("users/<str:user_id>/", views.user_page, name="user"),
    path("operations/<str:name>/", views.operation, name="operation"),
    path("impersonations/<str:session_id>/end/", views.impersonation_end,
         name="impersonation_end"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<str:approval_id>/", views.approval_decide, name="approval_decide"),
]
