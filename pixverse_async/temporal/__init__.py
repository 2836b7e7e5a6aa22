"""Generation as a durable workflow step: Temporal activities that never pay twice.

``pip install 'pixverse-async[temporal]'`` (temporalio; add ``[postgres]`` for the
PostgreSQL token store).

- :class:`GenerationActivities`: ``generate`` (any kind of generation, through one path:
  a :class:`GenerationCall`) and ``download`` activities for a worker. Each submit carries
  the trace id of its activity (:func:`trace_id_for`: workflow and activity id, never the
  attempt): PixVerse documents that reusing the same trace id returns the previous result
  instead of triggering a new generation, so a retried attempt gets the first video back.
- With a token store (:class:`MemoryTokenStore`, :class:`PostgresTokenStore`, or your own
  :class:`TokenStore`) ``generate`` completes asynchronously: the :class:`ActivityCompleter`
  behind your webhook route completes it when the delivery arrives, and its safety net
  polls the videos whose delivery is lost. Without one, ``generate`` polls and heartbeats.
- Failures (:func:`application_error`): failed and moderated videos and refused requests
  are non-retryable ``ApplicationError`` with the ErrCode in their details; ``500044`` and
  other transient answers are retryable.

Example (a workflow step)::

    from datetime import timedelta
    from temporalio import workflow

    with workflow.unsafe.imports_passed_through():
        from pixverse_async.temporal import GenerationActivities, GenerationCall

    @workflow.defn
    class OneVideo:
        @workflow.run
        async def run(self, call: GenerationCall) -> int:
            video = await workflow.execute_activity_method(
                GenerationActivities.generate, call,
                start_to_close_timeout=timedelta(minutes=30))
            return video.video_id
"""

from __future__ import annotations

from .activities import GenerationActivities
from .calls import GeneratedVideo, GenerationCall, trace_id_for
from .completer import ActivityCompleter, CompleterStats
from .failures import RETRYABLE, application_error
from .pg_store import PostgresTokenStore
from .store import MemoryTokenStore, PendingActivity, TokenStore

__all__ = [
    "RETRYABLE",
    "ActivityCompleter",
    "CompleterStats",
    "GeneratedVideo",
    "GenerationActivities",
    "GenerationCall",
    "MemoryTokenStore",
    "PendingActivity",
    "PostgresTokenStore",
    "TokenStore",
    "application_error",
    "trace_id_for",
]
