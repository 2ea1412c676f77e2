from django.urls import path

from casefile.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.case_new, name="new"),
    path("bulk/", views.bulk, name="bulk"),
    path("<str:case_id>/", views.case_page, name="case"),
    path("<str:case_id>/update/", views.case_update, name="update"),
    path("<str:case_id>/assign/", views.case_assign, name="assign"),
    path("<str:case_id>/status/", views.case_status, name="status"),
    path("<str:case_id>/notes/", views.case_note, name="note"),
    path("<str:case_id>/notes/<int:note_id>/", views.case_note_edit, name="note_edit"),
    path("<str:case_id>/tags/", views.case_tag, name="tag"),
    path("<str:case_id>/events/", views.case_link, name="link"),
    path("<str:case_id>/actions/", views.case_action, name="action"),
]
