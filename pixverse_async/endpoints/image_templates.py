"""Image template generation: ``client.image_templates`` (docs/api-notes.md, confirmed pages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..constants import Paths
from ..jobs.image_job import ImageJob
from ..jobs.polling import PollPolicy
from ..models import ImageResult, ImageTemplate, ImageTemplateResult, from_json, to_json
from ..options import Timeout
from ..session import Session
from ..telemetry.jobs import IMAGE_OPERATION, start_job, submitting
from ._coerce import call_options, coerce_request

#: The ``gen_ai.request.model`` of an image template job (its span: ``generate_image template``).
IMAGE_MODEL = "template"


class ImageTemplates:
    """``client.image_templates``: images made from a template and your uploaded images.

    Example::

        image = await client.images.upload("me.png")
        job = await client.image_templates.generate(
            img_ids=[image.img_id], template_id=302325299692608)
        result = await job.wait()        # ImageResult(status, url, ...)
    """

    def __init__(self, session: Session, poll: PollPolicy) -> None:
        self._session = session
        self.poll = poll

    async def generate(
        self,
        request: ImageTemplate | None = None,
        /,
        *,
        img_ids: Iterable[int] | None = None,
        template_id: int | None = None,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ImageJob:
        """Submit ``POST /openapi/v2/image/template/generate``; paid once accepted.

        Takes an :class:`~pixverse_async.types.ImageTemplate` or its fields as keywords, and
        the per-call options. Returns an :class:`~pixverse_async.jobs.image_job.ImageJob`.
        With OpenTelemetry on, the job is a ``generate_image template`` span from this submit
        to the end of its wait.
        """
        given = {"img_ids": img_ids, "template_id": template_id}
        options = {
            "timeout": timeout,
            "max_retries": max_retries,
            "extra_headers": extra_headers,
            "extra_body": extra_body,
        }
        fields = {k: v for k, v in {**given, **options}.items() if v is not None}
        if request is not None:
            request = coerce_request(ImageTemplate, request, {})
            if any(v is not None for v in given.values()):
                raise TypeError("pass either an ImageTemplate or its fields as keywords, not both")
            if fields:
                request = _evolve(request, fields)
        else:
            request = coerce_request(ImageTemplate, None, fields)
        span = start_job(IMAGE_MODEL, None, operation=IMAGE_OPERATION)
        with submitting(span):
            resp = await self._session.request(
                "POST",
                request.path,
                json_body=to_json(request),
                paid=True,
                options=call_options(request),
            )
            result = from_json(ImageTemplateResult, resp)
        if span is not None:
            span.submitted(result.image_id, result.credits)
        return ImageJob(self, result.image_id, credits=result.credits, request=request, span=span)

    async def get(self, image_id: int) -> ImageResult:
        """The state of one image (``GET /openapi/v2/image/result/{image_id}``)."""
        raw = await self._session.request("GET", Paths.IMAGE_RESULT_PREFIX + str(int(image_id)))
        return from_json(ImageResult, raw)


def _evolve(request: ImageTemplate, changes: dict[str, Any]) -> ImageTemplate:
    return attrs.evolve(request, **changes)
