from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "casefile.documents"
    label = "documents"

    def ready(self) -> None:
        # A legal hold may be placed over a document or a whole pack (documents/holds.py).
        from casefile.documents import holds
        from casefile.holds import scopes

        scopes.register(scopes.Scope(
            kind="document", exists=holds.document_exists, objects=holds.document_object_keys,
            resource=lambda doc_id: f"document:{doc_id}"))
        scopes.register(scopes.Scope(
            kind="doc_pack", exists=holds.pack_exists, objects=holds.pack_object_keys,
            resource=lambda pack_id: f"pack:{pack_id}"))
        scopes.register_parents("document", holds.document_packs)

        # The built-in `local` provider registers itself with the e-sign registry, and voiding a
        # pack ends its open envelopes (documents/signing.py): in every process — a worker or a
        # shell voids packs too, not only the web app whose URLs happen to import it.
        from casefile.documents import signing  # noqa: F401
