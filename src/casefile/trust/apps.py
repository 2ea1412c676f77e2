from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "casefile.trust"
    label = "trust"

    def ready(self) -> None:
        # A legal hold may be placed over a verification case (trust/holds.py).
        from casefile.holds import scopes
        from casefile.trust import holds

        scopes.register(scopes.Scope(
            kind="verification_case", exists=holds.verification_exists,
            objects=holds.verification_object_keys,
            resource=lambda case_id: f"verification:{case_id}",
            target_user=holds.verification_user))
        scopes.register_parents("evidence", holds.verification_cases_of_blob)

        # A suspension applied by a platform operation gets its statement of reasons, in the
        # operation's transaction (platform does not import trust).
        from casefile.platform.services import on_operation_applied
        from casefile.trust.statements import on_operation_applied as statement_of_suspension

        on_operation_applied(statement_of_suspension)

        # A report case's page shows its safety report (cases/details.py).
        from casefile.cases import details
        from casefile.trust import reports, reports_views

        details.register("report", reports_views.case_detail,
                         before_resolve=reports.check_resolve)
