from django.urls import path

from casefile.trust import reports_views, views

app_name = "trust"
urlpatterns = [
    path("", views.queue, name="queues"),
    path("queues/<str:name>/", views.queue, name="queue"),
    path("users/<str:user_id>/", views.user_trust, name="user"),
    path("users/<str:user_id>/profile/", views.profile_update, name="profile_update"),
    path("users/<str:user_id>/risk/", views.risk_set, name="risk_set"),
    path("users/<str:user_id>/hold/", views.hold_set, name="hold_set"),
    path("users/<str:user_id>/hold/clear/", views.hold_clear, name="hold_clear"),
    path("users/<str:user_id>/strikes/", views.strike_issue, name="strike_issue"),
    path("strikes/<str:strike_id>/reverse/", views.strike_reverse, name="strike_reverse"),
    path("users/<str:user_id>/verifications/", views.verification_open,
         name="verification_open"),
    path("verifications/<str:case_id>/", views.verification_page, name="verification"),
    path("verifications/<str:case_id>/move/", views.verification_transition,
         name="verification_transition"),
    path("verifications/<str:case_id>/appeal/", views.verification_appeal,
         name="verification_appeal"),
    path("reports/<str:case_id>/resolve/", reports_views.report_resolve,
         name="report_resolve"),
]
