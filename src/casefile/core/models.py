from django.db import models


class PeriodicJob(models.Model):
    """One row per job of `core/schedule.py`. A worker that moves `next_run_at` on with a
    conditional UPDATE has claimed the period and enqueues its run; every other worker's UPDATE
    matches no row, so however many workers run, each job is enqueued once per period.

    `leased_until` is held from the enqueue until that run finishes (or the lease runs out, if
    the worker running it died), so a slow run is never joined by a queue of copies of itself.
    """

    name = models.CharField(primary_key=True, max_length=100)
    next_run_at = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    holder = models.CharField(max_length=100, blank=True, default="")  # the worker that claimed
    last_task_id = models.CharField(max_length=64, blank=True, default="")  # django-tasks' id

    class Meta:
        db_table = "core_periodic_job"

    def __str__(self) -> str:
        return f"{self.name} (next {self.next_run_at:%Y-%m-%d %H:%M:%S})"
