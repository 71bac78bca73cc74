"""`survey-engine worker`: the drain loop and an RQ worker in one process.

The drain runs in a thread of its own (a loop over the Redis Streams, batches of
hundreds per transaction: one RQ job per submission could not keep up with a
burst), and between batches reads on the results dashboard's saved counts; RQ's
SimpleWorker runs in the main thread, where it can handle signals, and takes the
other background jobs (exports, recounts, counting results). A third thread sends the
webhooks' outbox (webhooks/sending.py), so a slow or dead receiver never holds up the
drain. Start as many of these processes, on as many machines, as the load needs.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from rq import SimpleWorker

from survey_engine.exporting import files as export_files
from survey_engine.extensions import db
from survey_engine.intake.drain import Drainer, consumer_name
from survey_engine.jobs import advance_saved_results, purge_paradata_hourly, purge_uploads_hourly
from survey_engine.queue import jobs_connection, queues, redis_connection
from survey_engine.webhooks import delivery_log
from survey_engine.webhooks.sending import Sender

log = logging.getLogger(__name__)


class JobWorker(SimpleWorker):
    """RQ's worker; its maintenance tick (at start, then every 10 minutes) also deletes
    expired export files, so they go even when nobody opens the exports page, webhook
    deliveries delivered more than WEBHOOK_KEEP_DAYS ago, and
    once an hour erases the paradata whose retention is over (intake/retention.py)."""

    def __init__(self, app: Flask, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, *args, **kwargs) -> bool:
        """Jobs are plain functions of survey_engine.jobs: each gets an app context of
        its own here (and its database session is removed when it ends)."""
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            export_files.expire_old()
        except Exception:  # the database may be down: jobs must go on regardless
            log.exception("could not expire old export files")
        finally:
            db.session.remove()  # no transaction left open until the next tick
        try:
            delivery_log.forget_old(self.app.config["WEBHOOK_KEEP_DAYS"])
        except Exception:
            log.exception("could not delete old webhook deliveries")
        finally:
            db.session.remove()
        try:
            # Once an hour over all the workers (the first to claim it in Redis).
            purge_paradata_hourly(self.connection)
        except Exception:
            log.exception("could not erase expired paradata")
        finally:
            db.session.remove()
        try:
            purge_uploads_hourly(self.connection)  # files uploaded, the form never sent
        except Exception:
            log.exception("could not delete unused uploads")
        finally:
            db.session.remove()


def run_worker(app: Flask, burst: bool = False, jobs: bool = True) -> None:
    with app.app_context():
        connection = redis_connection()
        # RQ blocks for minutes waiting for a job: with the drain's 2 s socket timeout
        # every wait timed out and RQ backed off for up to a minute between attempts.
        jobs_redis = jobs_connection(blocking=True)
    rows = app.config["RESULTS_TICK_ROWS"]
    drainer = Drainer(app, connection, idle=lambda: advance_saved_results(rows))
    stop = threading.Event()
    sender = Sender(app)
    if burst:
        # Everything buffered is stored first, then the webhooks due now are sent
        # once (retries wait for a worker that stays), then queued jobs run, then exit.
        drainer.run(stop, burst=True)
        sender.send_due()
        sender.pool.shutdown()
        if jobs:
            _run_jobs(app, jobs_redis, burst=True)
        return
    thread = threading.Thread(target=drainer.run, args=(stop,), name="drain", daemon=True)
    thread.start()
    webhooks = threading.Thread(target=sender.run, args=(stop,), name="webhooks", daemon=True)
    webhooks.start()
    try:
        if jobs:
            _run_jobs(app, jobs_redis, burst=False)  # returns on SIGTERM / Ctrl+C
        else:
            thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        thread.join(timeout=30)  # let the current batch commit and be acknowledged
        webhooks.join(timeout=5)  # a delivery cut short is sent again (at least once)


def _run_jobs(app: Flask, connection, burst: bool) -> None:
    with app.app_context():
        worker = JobWorker(
            app, queues(connection), connection=connection, name=f"{consumer_name()}-jobs"
        )
        worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
