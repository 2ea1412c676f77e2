from django.urls import path

from casefile.documents import views

app_name = "documents"
urlpatterns = [
    path("", views.library, name="library"),
    path("clauses/new/", views.clause_new, name="clause_new"),
    path("clauses/<str:clause_id>/", views.clause_page, name="clause"),
    path("clauses/<str:clause_id>/versions/", views.clause_version, name="clause_version"),
    path("clauses/<str:clause_id>/publish/", views.clause_publish, name="clause_publish"),
    path("clauses/<str:clause_id>/active/", views.clause_active, name="clause_active"),
    path("templates/new/", views.template_new, name="template_new"),
    path("templates/<str:template_id>/", views.template_page, name="template"),
    path("templates/<str:template_id>/versions/", views.template_version,
         name="template_version"),
    path("templates/<str:template_id>/publish/", views.template_publish,
         name="template_publish"),
    path("templates/<str:template_id>/active/", views.template_active, name="template_active"),
    path("templates/<str:template_id>/preview.pdf", views.template_preview,
         name="template_preview"),
    path("legs/<str:leg_id>/", views.leg_page, name="leg"),
    path("legs/<str:leg_id>/packs/", views.pack_generate, name="pack_generate"),
    path("packs/<str:pack_id>/issue/", views.pack_issue, name="pack_issue"),
    path("packs/<str:pack_id>/void/", views.pack_void, name="pack_void"),
    path("documents/<str:doc_id>/v1.pdf", views.document_pdf, name="document_pdf"),
]
