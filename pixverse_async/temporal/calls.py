"""What a generation activity takes and returns, and the trace id that makes it idempotent.

Activity arguments and results travel through Temporal's data converter, which encodes
dataclasses; the request inside a :class:`GenerationCall` is the project's cattrs
unstructuring of a request object, turned back into that object by the activity.

PixVerse says of the ``Ai-trace-id`` header that reusing the same value returns the previous
result instead of triggering a new generation. :func:`trace_id_for` derives that id from the
activity's identity (namespace, workflow id, activity id), never from its attempt or run: a
retried attempt, or a workflow reset to before the activity, resends the *same* submit and
gets the first generation's ``video_id`` back, paying once.

Example::

    from pixverse_async.temporal import GenerationCall, trace_id_for
    from pixverse_async.types import TextToVideo

    call = GenerationCall.of(TextToVideo(prompt="a kite", model="v5", duration=5,
                                         quality="540p", aspect_ratio="16:9"))
    assert call.kind == "text_to_video" and call.build().prompt == "a kite"
    assert trace_id_for("default", "batch-1", "3") == trace_id_for("default", "batch-1", "3")
"""

# No `from __future__ import annotations`: Temporal reads these dataclasses' field types at
# run time, also inside the workflow sandbox, where string annotations cannot be resolved.
import uuid
from dataclasses import dataclass, field
from typing import Any

import attrs

from ..errors import ValidationError
from ..models import REQUEST_KINDS, GenerationRequest, converter

#: The namespace of the UUID5 trace ids (a fixed random UUID: ids are stable across versions).
TRACE_NAMESPACE = uuid.UUID("6d0f5c3e-2b7a-4f4e-9a51-0c7d1f3b8e29")


def trace_id_for(namespace: str | None, workflow_id: str | None, activity_id: str) -> str:
    """The ``Ai-trace-id`` of an activity's submit: a UUID5 of its identity, so every attempt
    of the activity sends the same one (PixVerse answers a reused id with the first video).

    >>> trace_id_for("default", "wf-1", "1") == trace_id_for("default", "wf-1", "1")
    True
    >>> trace_id_for("default", "wf-1", "1") == trace_id_for("default", "wf-1", "2")
    False
    """
    return str(
        uuid.uuid5(TRACE_NAMESPACE, f"{namespace or ''}\n{workflow_id or ''}\n{activity_id}")
    )


@dataclass(frozen=True)
class GenerationCall:
    """One generation request as an activity argument: its ``kind`` (``text_to_video``,
    ``image_to_video``, ``transition``, ``extend``, ... as in
    :data:`~pixverse_async.models.REQUEST_KINDS`), its fields and its ``extra_body``.

    ``estimate`` is free for the workflow's own use (e.g. a spending cap); it is not sent.
    Per-call transport options (timeout, retries, headers) are not carried: the worker's
    client decides them.
    """

    kind: str
    fields: dict[str, Any]
    extra_body: dict[str, Any] | None = None
    estimate: int | None = field(default=None, compare=False)

    @classmethod
    def of(cls, request: GenerationRequest, *, estimate: int | None = None) -> "GenerationCall":
        """The call for a request object (built, so validated, where it is made)."""
        extra = dict(request.extra_body) if request.extra_body else None
        return cls(request.kind, converter.unstructure(request), extra, estimate)

    def build(self) -> GenerationRequest:
        """The request object again; raises :class:`~pixverse_async.ValidationError` naming
        the field when the call does not describe a valid request."""
        request_class = REQUEST_KINDS.get(self.kind)
        if request_class is None:
            raise ValidationError("kind", f"must be one of {', '.join(REQUEST_KINDS)}", self.kind)
        request = converter.structure(self.fields, request_class)
        if self.extra_body:
            request = attrs.evolve(request, extra_body=self.extra_body)
        return request


@dataclass(frozen=True)
class GeneratedVideo:
    """What a generation activity returns: the finished video and what it cost.

    ``finished_by`` says how the activity learned of the end: ``"webhook"`` (its delivery) or
    ``"poll"`` (a status request: the safety net's, or polling without a webhook).
    """

    video_id: int
    url: str | None
    credits: int | None
    trace_id: str
    finished_by: str
