"""Celery tasks: thin wrappers that own the retry policy and call one pipeline function."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from decisions import pipeline, reviews


@shared_task(bind=True, acks_late=True, max_retries=3)
def evaluate_request_task(self, request_id: int) -> None:
    try:
        pipeline.request_evaluate(request_id=request_id)
    except OperationalError as exc:
        # A database blip (locked SQLite file, failover): try again before giving up.
        if self.request.retries < self.max_retries:
            pipeline.request_release(request_id=request_id)
            raise self.retry(exc=exc, countdown=2**self.request.retries) from None
        pipeline.request_mark_failed(request_id=request_id, error=f"database error: {exc}")
        raise
    except Exception as exc:
        pipeline.request_mark_failed(request_id=request_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task
def requests_requeue_stuck_task() -> int:
    return pipeline.requests_requeue_stuck(now=timezone.now())


@shared_task
def reviews_expire_task() -> int:
    return reviews.reviews_expire(now=timezone.now())
