"""A results gallery: one self-contained HTML page with a card per request of a batch.

:func:`write_gallery` reads a journal (or a runner's outcomes), finds each succeeded video in a
folder of downloads (``<video_id>.mp4``, as ``pixverse batch --out`` and the runner's callers
save them) and writes ``index.html`` into a folder. The page needs nothing but itself and the
videos: no external script, font or style. Each card shows the video, playable in the page,
the prompt, kind, model, quality, duration, state, credits, ``video_id`` and, for a request
that did not succeed, its error. Filters by state and kind and the batch's totals (counts,
credits charged, refunded and spent) sit at the top.

Thousands of cards stay usable: the page shows the first 96 matching cards and adds 96 more
whenever the reader nears the bottom (or clicks "Show more"), so the browser lays out only
what was scrolled to. Videos are ``preload="none"`` with no ``src`` until their card is near
the viewport and scrolling has paused (an ``IntersectionObserver`` and a short debounce; the
``src`` also shows the first frame as the poster when no poster image is next to the video);
at most 48 hold a source at once, the oldest ones out of view and not playing are unloaded. A
poster image named ``<video_id>.jpg``/``.png``/``.webp`` beside the video is used when present.

Running it again rewrites the page atomically (a temporary file renamed over the old one), so
a re-run batch updates its gallery and a browser never reads half a page. Every text on the
page is HTML-escaped: prompts are user text.

Example::

    import asyncio
    from pixverse_async.batch.gallery import write_gallery

    page = asyncio.run(write_gallery("batch.jsonl.journal.sqlite", "videos/", "gallery/"))
    print("open", page)
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import attrs

from ..journal import Journal, JournalEntry
from ..models import GenerationRequest, to_json
from .costs import Spend, cost_key, is_refunded
from .entries import read_entries
from .spending import not_submitted

__all__ = ["GalleryCard", "cards_from_entries", "cards_from_outcomes", "render", "write_gallery"]

PAGE_NAME: Final = "index.html"
_POSTER_SUFFIXES: Final = (".jpg", ".jpeg", ".png", ".webp")
_STATE_ORDER: Final = (
    "succeeded", "failed", "unknown", "not_submitted", "submitted", "sending", "pending"
)  # fmt: skip
_PROMPT_FIELDS: Final = ("prompt", "restyle_prompt", "lip_sync_tts_content", "sound_effect_content")


@attrs.frozen(kw_only=True)
class GalleryCard:
    """One request as the gallery shows it."""

    kind: str
    state: str
    prompt: str = ""
    model: str | None = None
    quality: str | None = None
    duration: int | None = None
    video_id: int | None = None
    credits: int | None = None
    refunded: bool = False
    error: str | None = None
    url: str | None = None
    """The service's URL of the video, used when no downloaded file is found."""


def _card(
    kind: str,
    body: Mapping[str, Any],
    state: str,
    *,
    video_id: int | None,
    credits: int | None,
    error_type: str | None,
    error_message: str | None,
    url: str | None,
) -> GalleryCard:
    _, model, quality, duration = cost_key(kind, body)
    prompt = next((str(body[f]) for f in _PROMPT_FIELDS if body.get(f)), "")
    error = None
    if error_type or error_message:
        error = f"{error_type}: {error_message}" if error_type else str(error_message)
    return GalleryCard(
        kind=kind,
        state=state,
        prompt=prompt,
        model=model,
        quality=quality,
        duration=duration,
        video_id=video_id,
        credits=credits,
        refunded=credits is not None and is_refunded(error_type),
        error=error,
        url=url,
    )


def cards_from_entries(entries: Iterable[JournalEntry]) -> list[GalleryCard]:
    """Cards for journal entries, in the order given."""
    return [
        _card(
            e.kind,
            e.body,
            "not_submitted" if not_submitted(e) else e.state.value,
            video_id=e.video_id,
            credits=e.credits,
            error_type=e.error_type,
            error_message=e.error_message,
            url=e.url or (e.result or {}).get("url") or None,
        )
        for e in entries
    ]


def cards_from_outcomes(outcomes: Iterable[Any]) -> list[GalleryCard]:
    """Cards for a runner's outcomes (:class:`.runner.Outcome`), by ``index``."""
    cards = []
    for o in sorted(outcomes, key=lambda o: o.index):
        request = o.request
        body: Mapping[str, Any] = {}
        if isinstance(request, GenerationRequest):
            body = to_json(request)
        elif isinstance(request, Mapping):  # a request the runner refused to run
            body = request
        cards.append(
            _card(
                str(getattr(request, "kind", None) or body.get("kind") or "?"),
                body,
                str(getattr(o.state, "value", o.state)),
                video_id=o.video_id,
                credits=getattr(o, "credits", None),
                error_type=o.error_type,
                error_message=o.error_message,
                url=o.video.url if o.video is not None else None,
            )
        )
    return cards


# ----------------------------------------------------------------------------------------------
# The page

_CSS: Final = """
:root{--bg:#101418;--card:#1a2027;--line:#2a323c;--text:#e6e9ee;--dim:#98a2b0;--ok:#35c27a;
--bad:#ef5a5a;--warn:#e8b339;--run:#5aa0ef;color-scheme:dark}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{position:sticky;top:0;z-index:2;background:rgba(16,20,24,.96);
border-bottom:1px solid var(--line);padding:14px 22px 10px}
h1{font-size:19px;margin:0 0 8px;font-weight:650}
.totals{display:flex;flex-wrap:wrap;gap:8px 22px;color:var(--dim);margin-bottom:10px}
.totals b{color:var(--text);font-size:16px;font-variant-numeric:tabular-nums}
.totals .succeeded b{color:var(--ok)}.totals .failed b{color:var(--bad)}
.totals .unknown b{color:var(--warn)}
.filters{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
.group{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.group>span{color:var(--dim);margin-right:2px}
.filters button{background:var(--card);color:var(--text);border:1px solid var(--line);
border-radius:999px;padding:3px 11px;font:inherit;cursor:pointer}
.filters button[aria-pressed=false]{opacity:.45;text-decoration:line-through}
.shown{color:var(--dim);margin-left:auto}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:16px;
padding:18px 22px 40px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden;
display:flex;flex-direction:column}
.card[hidden],#more[hidden]{display:none}
#more{display:block;margin:0 auto 40px;background:var(--card);color:var(--text);
border:1px solid var(--line);border-radius:999px;padding:6px 18px;font:inherit;cursor:pointer}
.media{aspect-ratio:16/9;background:#07090b;display:flex;align-items:center;
justify-content:center;color:var(--dim)}
.media video{width:100%;height:100%;object-fit:contain;display:block;background:#000}
.body{padding:10px 12px 12px;display:flex;flex-direction:column;gap:7px;flex:1}
.prompt{margin:0;overflow:hidden;display:-webkit-box;-webkit-line-clamp:3;
-webkit-box-orient:vertical;word-break:break-word}
.prompt.empty{color:var(--dim);font-style:italic}
.meta{display:flex;flex-wrap:wrap;gap:5px}
.tag{border:1px solid var(--line);border-radius:5px;padding:0 6px;color:var(--dim);
font-size:12.5px}
.state{font-weight:600;border-radius:5px;padding:0 7px;font-size:12.5px;color:#0b0e11;
background:var(--dim)}
.state.succeeded{background:var(--ok)}.state.failed{background:var(--bad)}
.state.unknown,.state.sending{background:var(--warn)}
.state.submitted,.state.pending{background:var(--run)}.state.not_submitted{background:var(--dim)}
.foot{display:flex;flex-wrap:wrap;justify-content:space-between;gap:2px 10px;
color:var(--dim);font-size:12.5px;margin-top:auto;font-variant-numeric:tabular-nums}
.foot span{white-space:nowrap}
.vid{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.refund{color:var(--warn)}
.error{margin:0;color:#ffb4b4;background:rgba(239,90,90,.12);border-radius:6px;
padding:5px 8px;font-size:12.5px;word-break:break-word}
"""

_JS: Final = """
(() => {
  const STEP = 96;  // cards added to the page at a time
  const LOADED_MAX = 48;  // videos holding a source at once
  const cards = Array.from(document.querySelectorAll('.card'));
  const off = {state: new Set(), kind: new Set()};
  const shown = document.getElementById('shown');
  const more = document.getElementById('more');
  let limit = STEP;
  const near = new Set(), loaded = [];
  let timer = 0, watch = null;
  const watched = new WeakSet();

  function load(video) {
    if (video.getAttribute('src')) return;
    video.preload = 'metadata';
    video.src = video.dataset.src;
    loaded.push(video);
    for (let i = 0; loaded.length > LOADED_MAX && i < loaded.length; ) {
      const old = loaded[i];
      if (near.has(old) || !old.paused) { i++; continue; }
      loaded.splice(i, 1);
      old.removeAttribute('src');
      old.preload = 'none';
      old.load();
    }
  }
  // Videos near the viewport load once scrolling pauses: a fast scroll starts none.
  const loadNear = () => { timer = 0; for (const v of near) load(v); };
  const soon = () => { clearTimeout(timer); timer = setTimeout(loadNear, 150); };
  if ('IntersectionObserver' in window) {
    watch = new IntersectionObserver((seen) => {
      for (const e of seen) {
        if (e.isIntersecting) near.add(e.target); else near.delete(e.target);
      }
      soon();
    }, {rootMargin: '300px 0px'});
    addEventListener('scroll', soon, {passive: true});
  }

  // Only the first `limit` matching cards are on the page; more join near the bottom.
  function apply() {
    let matched = 0, onPage = 0;
    for (const card of cards) {
      const match = !off.state.has(card.dataset.state) && !off.kind.has(card.dataset.kind);
      const show = match && matched < limit;
      if (match) matched++;
      card.hidden = !show;
      if (!show) continue;
      onPage++;
      const video = card.querySelector('video[data-src]');
      if (video && !watched.has(video)) {
        watched.add(video);
        if (watch) watch.observe(video); else load(video);
      }
    }
    shown.textContent = matched + ' of ' + cards.length + ' shown';
    more.hidden = onPage >= matched;
    more.textContent = 'Show more (' + (matched - onPage) + ' left)';
  }
  function grow() { limit += STEP; apply(); }
  more.addEventListener('click', grow);
  addEventListener('scroll', () => {
    if (!more.hidden && more.getBoundingClientRect().top < innerHeight + 800) grow();
  }, {passive: true});

  for (const video of document.querySelectorAll('video')) {
    const show = () => { video.controls = true; };
    video.addEventListener('mouseenter', show);
    video.addEventListener('focus', show);
    video.addEventListener('play', show);
    video.addEventListener('mouseleave', () => { if (video.paused) video.controls = false; });
  }
  for (const button of document.querySelectorAll('.filters button')) {
    button.addEventListener('click', () => {
      const set = off[button.dataset.filter], value = button.dataset.value;
      const on = set.has(value);
      if (on) set.delete(value); else set.add(value);
      button.setAttribute('aria-pressed', String(on));
      limit = STEP;
      apply();
    });
  }
  apply();
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _find(folder: Path, video_id: int, suffixes: Sequence[str]) -> Path | None:
    for suffix in suffixes:
        path = folder / f"{video_id}{suffix}"
        if path.is_file():
            return path
    return None


def _href(target: Path, page_dir: Path) -> str:
    """A URL-encoded path to ``target`` relative to the page's folder."""
    relative = Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()
    return quote(relative)


def _media(card: GalleryCard, downloads: Path | None, page_dir: Path) -> str:
    if card.state != "succeeded" or card.video_id is None:
        label = {"failed": "no video", "unknown": "outcome unknown"}.get(card.state, card.state)
        return f'<div class="media">{_e(label)}</div>'
    found = _find(downloads, card.video_id, (".mp4",)) if downloads is not None else None
    if found is not None:
        src = _href(found, page_dir) + "#t=0.1"
    elif card.url:
        src = card.url
    else:
        return '<div class="media">not downloaded</div>'
    poster = _find(downloads, card.video_id, _POSTER_SUFFIXES) if downloads is not None else None
    poster_attr = f' poster="{_e(_href(poster, page_dir))}"' if poster is not None else ""
    return (
        f'<div class="media"><video muted playsinline preload="none" tabindex="0"'
        f' data-src="{_e(src)}"{poster_attr}></video></div>'
    )


def _card_html(card: GalleryCard, downloads: Path | None, page_dir: Path) -> str:
    tags = [card.kind]
    tags += [t for t in (card.model, card.quality) if t]
    if card.duration is not None:
        tags.append(f"{card.duration} s")
    if card.credits is None:
        cost = "credits: ?"
    elif card.refunded:
        cost = f'<span class="refund">{card.credits} credits refunded</span>'
    else:
        cost = f"{card.credits} credits"
    prompt = (
        f'<p class="prompt" title="{_e(card.prompt)}">{_e(card.prompt)}</p>'
        if card.prompt
        else '<p class="prompt empty">(no prompt)</p>'
    )
    error = f'<p class="error">{_e(card.error)}</p>' if card.error else ""
    video_id = f"#{card.video_id}" if card.video_id is not None else "no video id"
    return (
        f'<article class="card" data-state="{_e(card.state)}" data-kind="{_e(card.kind)}"'
        f' data-video-id="{_e(card.video_id or "")}">'
        f"{_media(card, downloads, page_dir)}"
        f'<div class="body">{prompt}'
        f'<div class="meta"><span class="state {_e(card.state)}">{_e(card.state)}</span>'
        + "".join(f'<span class="tag">{_e(t)}</span>' for t in tags)
        + f"</div>{error}"
        f'<div class="foot"><span>{cost}</span>'
        f'<span class="vid" title="video_id">{_e(video_id)}</span></div>'
        "</div></article>"
    )


def _spend(cards: Iterable[GalleryCard]) -> Spend:
    spend = Spend()
    for card in cards:
        spend.add(card.credits, refunded=card.refunded)
    return spend


def _ordered(counts: Counter[str]) -> list[tuple[str, int]]:
    order = {state: i for i, state in enumerate(_STATE_ORDER)}
    return sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


def _filter_group(name: str, label: str, counts: Counter[str]) -> str:
    buttons = "".join(
        f'<button type="button" data-filter="{name}" data-value="{_e(value)}"'
        f' aria-pressed="true">{_e(value)} <small>{n}</small></button>'
        for value, n in _ordered(counts)
    )
    return f'<div class="group"><span>{_e(label)}</span>{buttons}</div>'


def render(
    cards: Sequence[GalleryCard],
    downloads_dir: str | os.PathLike[str] | None,
    page_dir: str | os.PathLike[str],
    *,
    title: str = "PixVerse batch",
) -> str:
    """The gallery page for ``cards`` as HTML text (video paths relative to ``page_dir``)."""
    downloads = Path(downloads_dir) if downloads_dir is not None else None
    page = Path(page_dir)
    states = Counter(c.state for c in cards)
    kinds = Counter(c.kind for c in cards)
    spend = _spend(cards)
    totals = [
        ("requests", len(cards)),
        *_ordered(states),
        ("credits charged", spend.charged),
        ("refunded", spend.refunded),
        ("spent", spend.spent),
    ]
    totals_html = "".join(
        f'<span class="{_e(label)}"><b>{_e(n)}</b> {_e(label)}</span>' for label, n in totals
    )
    body = "\n".join(_card_html(c, downloads, page) for c in cards)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><div class="totals" id="totals">{totals_html}</div>'
        '<div class="filters">'
        f"{_filter_group('state', 'state', states)}{_filter_group('kind', 'kind', kinds)}"
        '<span class="shown" id="shown"></span></div></header>'
        f'<main id="cards">\n{body}\n</main><button type="button" id="more" hidden></button>'
        f"<script>{_JS}</script></body></html>\n"
    )


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


async def write_gallery(
    source: Journal | str | os.PathLike[str] | Iterable[JournalEntry] | Iterable[Any],
    downloads_dir: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    title: str = "PixVerse batch",
) -> Path:
    """Write the gallery of a batch to ``out_dir/index.html`` and return that path.

    ``source`` is a :class:`~pixverse_async.journal.Journal`, the path of a journal file, or
    the journal's entries or a runner's outcomes. ``downloads_dir`` holds the videos as
    ``<video_id>.mp4`` (None: link the service's URLs). The page is replaced atomically.

    Example::

        async with PixVerse() as client:
            outcomes = await client.runner(journal="batch.sqlite").gather(requests)
            # ... download the succeeded ones into videos/<video_id>.mp4 ...
        page = await write_gallery("batch.sqlite", "videos", "gallery")
    """
    if isinstance(source, (Journal, str, os.PathLike)):
        items: list[Any] = await read_entries(source)
    else:
        items = list(source)
    entries = [i for i in items if isinstance(i, JournalEntry)]
    cards = (
        cards_from_entries(entries) if len(entries) == len(items) else cards_from_outcomes(items)
    )
    page_dir = Path(out_dir)
    page = page_dir / PAGE_NAME
    text = await asyncio.to_thread(render, cards, downloads_dir, page_dir, title=title)
    await asyncio.to_thread(_write_atomically, page, text)
    return page
