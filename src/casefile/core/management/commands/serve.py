import os

from django.core.management import call_command

from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = "Serve Casefile with gunicorn (a production WSGI server)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int,
                            default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "4")))

    def handle(self, *args, host, port, workers, threads, **options):
        from gunicorn.app.base import BaseApplication

        from casefile.core.checks import embedded_default
        from casefile.wsgi import application

        # A production deployment starts only with production settings (core/checks.py); the
        # embedded default is for trying Casefile out on one machine.
        call_command("check", deploy=not embedded_default(), fail_level="ERROR")
        call_command("collectstatic", interactive=False, verbosity=0)

        class Server(BaseApplication):
            def load_config(self):
                self.cfg.set("bind", f"{host}:{port}")
                self.cfg.set("workers", workers)
                self.cfg.set("threads", threads)
                self.cfg.set("accesslog", "-")
                self.cfg.set("timeout", 120)
                # Long request lines reach Django, whose edge middleware answers 414 in the
                # API's error shape; gunicorn's own refusal would be an HTML page.
                self.cfg.set("limit_request_line", 8190)

            def load(self):
                return application

        self.stdout.write(f"Casefile on http://{host}:{port}/ (API: /api/v1/, docs: /api/v1/docs)")
        Server().run()
