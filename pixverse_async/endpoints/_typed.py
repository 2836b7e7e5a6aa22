"""Generation methods typed by their request class: one body for every endpoint.

``text_to_video = generation_method(TextToVideo)`` makes ``client.videos.text_to_video``
take exactly the keywords of ``TextToVideo(...)`` (a ``ParamSpec`` carries the class's
signature, so mypy and IDEs catch a misspelled field or a wrong type), or a ready
``TextToVideo`` object with the per-call options, and submit it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

from ..models import GenerationRequest
from ..options import Timeout

if TYPE_CHECKING:
    from ..jobs import GenerationJob
    from .videos import Videos

P = ParamSpec("P")
R = TypeVar("R", bound=GenerationRequest)
R_contra = TypeVar("R_contra", bound=GenerationRequest, contravariant=True)


class GenerationMethod(Protocol[P, R_contra]):
    """A bound generation method: a request object, or the request class's keywords."""

    @overload
    def __call__(
        self,
        request: R_contra,
        /,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        resend_ambiguous: bool | None = None,
    ) -> Coroutine[Any, Any, GenerationJob]: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, GenerationJob]: ...


class generation_method(Generic[P, R]):  # used like a decorator (as property is)
    """A class attribute of :class:`~pixverse_async.endpoints.videos.Videos` submitting ``cls``."""

    def __init__(self, cls: Callable[P, R]) -> None:
        self.cls: Any = cls
        self.name = ""
        name = getattr(cls, "__name__", "request")
        path = getattr(cls, "path", "")
        self.__doc__ = (
            f"Submit a :class:`~pixverse_async.types.{name}` (``POST {path}``).\n\n"
            f"Takes a ``{name}`` or its fields as keywords (with ``timeout``, ``max_retries``, "
            "``extra_headers``, ``extra_body`` and ``resend_ambiguous``) and returns a "
            "GenerationJob once accepted."
        )

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> generation_method[P, R]: ...

    @overload
    def __get__(self, obj: Videos, owner: type[Any]) -> GenerationMethod[P, R]: ...

    def __get__(self, obj: Videos | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        bound = partial(obj._generate, self.cls)
        # cached on the instance: a non-data descriptor yields to the instance's dict
        obj.__dict__[self.name] = bound
        return bound
