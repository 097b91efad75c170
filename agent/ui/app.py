"""`memento ui`: a local web app over the run traces, the case memory and eval folders.

Server-rendered pages (Jinja2 templates in `templates/`, one stylesheet and one
small script in `static/`, nothing from outside the machine). A running run's
page follows it live through server-sent events. The app answers only requests
addressed to the host it was started on (a page elsewhere cannot reach it by
DNS rebinding), and a form post must carry the token the page was rendered with
(a page elsewhere cannot submit feedback in the user's name).
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from memento.core.errors import CaseNotFound, MementoError, RunNotFound

from ..traces import RunRecord, RunStore, Step

__all__ = ["UIConfig", "build_app", "find_evals"]

HERE = Path(__file__).resolve().parent
POLL_S = 0.5  # how often a live page's stream looks for new steps
STREAM_LIMIT_S = 3600.0  # a live stream ends after this long; the page reconnects if the run still goes on


@dataclass
class UIConfig:
    """What the app shows and where it listens (the host and port it accepts requests for)."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 8710
    eval_dirs: list[Path] = field(default_factory=list)
    open_bank: Callable[[], Any] | None = None  # opens the CaseBank (None: MemorySettings.from_env())
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


def find_evals(paths: Sequence[Path]) -> list[Path]:
    """Eval folders: each path that is one (holds config.json), or the eval folders directly inside it."""
    found: list[Path] = []
    for path in paths:
        if (path / "config.json").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if (p / "config.json").is_file())
    return list(dict.fromkeys(p.resolve() for p in found))


class _Pages:
    """The routes' handlers over one RunStore and one (lazily opened) CaseBank."""

    def __init__(self, config: UIConfig) -> None:
        self.config = config
        self.store = RunStore.open(config.home)
        self._bank: Any = None
        self.templates = Environment(loader=PackageLoader("memento.agent.ui", "templates"), autoescape=select_autoescape())
        self.templates.filters["pct"] = _pct
        self.templates.filters["usd"] = lambda v: "–" if _missing(v) else f"${v:.4f}"
        self.templates.filters["secs"] = lambda v: "–" if _missing(v) else f"{v:.1f} s"
        self.templates.filters["num"] = lambda v: "–" if _missing(v) else f"{v:,}"
        self.templates.filters["pretty"] = lambda v: json.dumps(v, indent=1, ensure_ascii=False)
        self.templates.filters["when"] = _when
        self.templates.filters["cited"] = _cited
        self.templates.filters["web_link"] = _web_link

    @property
    def bank(self) -> Any:
        if self._bank is None:
            if self.config.open_bank is not None:
                self._bank = self.config.open_bank()
            else:
                from memento.memory import CaseBank, MemorySettings

                self._bank = CaseBank.open(MemorySettings.from_env())
        return self._bank

    def close(self) -> None:
        self.store.close()
        if self._bank is not None:
            self._bank.close()

    def render(self, name: str, request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
        page = self.templates.get_template(name).render(request=request, token=self.config.token, **context)
        return HTMLResponse(page, status_code=status_code)

    # ---- runs ----------------------------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        status = request.query_params.get("status", "")
        statuses = ("running", "answered", "budget_exhausted", "failed", "interrupted")
        rows = self.store.list_runs(limit=200, status=status if status in statuses else None, search=query or None)
        return self.render("runs.html", request, runs=rows, q=query, status=status, statuses=statuses)

    def _run(self, run_id: str) -> RunRecord:
        try:
            return self.store.get_run(run_id)
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    async def run(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        return self.render("run.html", request, run=run, events=_timeline(run), said=request.query_params.getlist("said"))

    async def timeline(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        return self.render("timeline.html", request, run=run, events=_timeline(run))

    async def events(self, request: Request) -> Response:
        run_id = self._run(request.path_params["run_id"]).id

        async def stream() -> AsyncIterator[str]:
            last: tuple[str, int] | None = None
            with anyio.move_on_after(STREAM_LIMIT_S):
                while not await request.is_disconnected():
                    now = self.store.changes(run_id)
                    if now != last:
                        last = now
                        yield f"event: changed\ndata: {json.dumps({'status': now[0], 'steps': now[1]})}\n\n"
                    if now[0] != "running":
                        yield "event: finished\ndata: {}\n\n"
                        return
                    await anyio.sleep(POLL_S)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def image(self, request: Request) -> Response:
        path = self.store.image_path(request.path_params["run_id"], request.path_params["name"])
        if path is None:
            raise HTTPException(404, "No such image.")
        return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})

    async def feedback(self, request: Request) -> Response:
        form = await request.form()
        if not secrets.compare_digest(str(form.get("token", "")), self.config.token):
            raise HTTPException(403, "This form is stale or came from another site; reload the page.")
        run_id = self._run(request.path_params["run_id"]).id
        value = {"good": 1.0, "bad": 0.0}.get(str(form.get("reward")))
        if value is None:
            raise HTTPException(400, "reward must be good or bad.")
        from ..feedback import apply_feedback

        try:
            said = await anyio.to_thread.run_sync(apply_feedback, self.store, self.bank, run_id, value)
        except MementoError as exc:
            said = [str(exc)]
        query = "&".join(f"said={_quote(line)}" for line in said)
        return RedirectResponse(f"/runs/{run_id}?{query}", status_code=303)

    # ---- memory --------------------------------------------------------------------------------

    async def memory(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        policy = request.query_params.get("policy", "similarity")
        policy = policy if policy in ("similarity", "q") else "similarity"
        try:
            k = max(1, min(64, int(request.query_params.get("k", "8"))))
        except ValueError:
            k = 8
        bank = self.bank
        stats = await anyio.to_thread.run_sync(bank.stats)
        found = None
        if query:
            retrieval = await anyio.to_thread.run_sync(lambda: bank.retrieve(query, k=k, policy=policy))
            found = {"policy": retrieval.policy, "cases": retrieval.cases}
        return self.render("memory.html", request, stats=stats, q=query, policy=policy, k=k, found=found)

    async def case(self, request: Request) -> Response:
        case_id = request.path_params["case_id"]
        try:
            case = await anyio.to_thread.run_sync(self.bank.get, case_id)
        except CaseNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        return self.render("case.html", request, case=case, runs=self.store.runs_showing(case.id))

    # ---- evals ---------------------------------------------------------------------------------

    def _folder(self, index: int) -> Path:
        folders = find_evals(self.config.eval_dirs)
        if not 0 <= index < len(folders):
            raise HTTPException(404, "No such eval folder.")
        return folders[index]

    @staticmethod
    def _summary(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from ..evals.report import load_groups, summarise

        [group] = load_groups([folder])
        return summarise(group), group.rows

    async def evals(self, request: Request) -> Response:
        summaries = [(index, folder, self._summary(folder)[0]) for index, folder in enumerate(find_evals(self.config.eval_dirs))]
        chart = _curves([(f"{s['label']} · {folder.name}", s["per_iteration"]) for _, folder, s in summaries])
        return self.render("evals.html", request, summaries=summaries, chart=chart, dirs=self.config.eval_dirs)

    async def eval_page(self, request: Request) -> Response:
        folder = self._folder(int(request.path_params["index"]))
        summary, rows = self._summary(folder)
        chart = _curves([(summary["label"], summary["per_iteration"])])
        return self.render("eval.html", request, index=request.path_params["index"], folder=folder, s=summary, rows=rows, chart=chart)

    async def eval_plot(self, request: Request) -> Response:
        from ..evals.report import PLOTS

        folder = self._folder(int(request.path_params["index"]))
        name = request.path_params["name"]
        if name not in PLOTS or not (folder / name).is_file():
            raise HTTPException(404, "No such plot.")
        return FileResponse(folder / name)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _missing(value: Any) -> bool:
    """None, or a key the record does not have (older records lack newer facts)."""
    return value is None or isinstance(value, Undefined)


def _when(stamp: float | None) -> str:
    if _missing(stamp) or not stamp:
        return "–"
    return datetime.fromtimestamp(float(stamp), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pct(value: float | None) -> str:
    return "–" if value is None or _missing(value) else f"{100 * value:.1f}%"


_CITATION = re.compile(r"\[(\d+(?:,\s*\d+)*)\]")


class _Html(str):
    """Text already escaped here, which the templates' autoescaping takes as it is (its `__html__`)."""

    def __html__(self) -> str:
        return str(self)


def _cited(text: str, sources: Sequence[dict[str, Any]]) -> _Html:
    """A report as escaped text whose citations `[n]` link to source n of the page's list.

    The report is model output: it is escaped whole first, and the only markup added is those links,
    for numbers the list holds (the citations were checked against the run's sources before the trace).
    """
    numbers = {s.get("n") for s in sources}

    def link(match: re.Match[str]) -> str:
        cited = [n.strip() for n in match.group(1).split(",")]
        return "[" + ", ".join(f'<a href="#source-{n}">{n}</a>' if int(n) in numbers else n for n in cited) + "]"

    return _Html(_CITATION.sub(link, html.escape(text)))


def _web_link(where: str) -> bool:
    """Whether a source is a web page the page may link to (a file path, or any other scheme, is shown as text)."""
    return where.startswith(("https://", "http://"))


def _timeline(run: RunRecord) -> list[dict[str, Any]]:
    """Every step of a run in order, each tagged with its kind, for the timeline template."""
    kinds: list[tuple[str, Sequence[Step]]] = [
        ("cases", run.cases_shown[:1]),  # the cases were shown together: one event
        ("plans", run.plans),
        ("subtasks", run.subtasks),
        ("model_calls", run.model_calls),
        ("tool_calls", run.tool_calls),
        ("rewards", run.rewards),
        ("reports", [run.report] if run.report else []),
    ]
    events = [{"kind": kind, "step": item.step, "offset_s": item.offset_s, "item": item} for kind, items in kinds for item in items]
    return sorted(events, key=lambda e: (e["step"], e["kind"]))


def _curves(series: list[tuple[str, dict[str, Any]]], width: int = 560, height: int = 260) -> dict[str, Any]:
    """Accuracy per iteration as SVG geometry: one polyline per eval, axes 0–100%."""
    pad_l, pad_r, pad_t, pad_b = 44, 12, 12, 32
    iterations = sorted({int(k) for _, per in series for k in per}) or [1]
    last = max(iterations)
    span = max(1, last - 1)

    def x(i: int) -> float:
        return pad_l + (width - pad_l - pad_r) * ((i - 1) / span if last > 1 else 0.5)

    def y(v: float) -> float:
        return pad_t + (height - pad_t - pad_b) * (1 - v)

    lines = []
    for n, (label, per) in enumerate(series):
        points = [(int(k), v["accuracy"]) for k, v in sorted(per.items(), key=lambda kv: int(kv[0])) if v.get("accuracy") is not None]
        lines.append(
            {
                "label": label,
                "hue": (n * 137) % 360,
                "points": " ".join(f"{x(i):.1f},{y(a):.1f}" for i, a in points),
                "dots": [{"x": round(x(i), 1), "y": round(y(a), 1), "text": f"{label}, iteration {i}: {100 * a:.1f}%"} for i, a in points],
            }
        )
    ticks_x = [{"x": round(x(i), 1), "label": i} for i in iterations] if len(iterations) <= 20 else []
    ticks_y = [{"y": round(y(v / 100), 1), "label": f"{v}%"} for v in range(0, 101, 25)]
    return {"width": width, "height": height, "lines": lines, "ticks_x": ticks_x, "ticks_y": ticks_y, "base": height - pad_b, "left": pad_l}


def build_app(config: UIConfig) -> Starlette:
    """The Starlette app: pages, the live stream, images, feedback, static files."""
    pages = _Pages(config)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pages.close()

    async def home(_request: Request) -> Response:
        return RedirectResponse("/runs", status_code=307)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "Something went wrong; the server's log says more."
        return pages.render("error.html", request, status_code=status, status=status, detail=detail)

    hosts = sorted({config.host, "127.0.0.1", "localhost", "::1", "[::1]"})
    routes = [
        Route("/", home),
        Route("/runs", pages.runs),
        Route("/runs/{run_id}", pages.run),
        Route("/runs/{run_id}/timeline", pages.timeline),
        Route("/runs/{run_id}/events", pages.events),
        Route("/runs/{run_id}/images/{name}", pages.image),
        Route("/runs/{run_id}/feedback", pages.feedback, methods=["POST"]),
        Route("/memory", pages.memory),
        Route("/memory/cases/{case_id}", pages.case),
        Route("/evals", pages.evals),
        Route("/evals/{index:int}", pages.eval_page),
        Route("/evals/{index:int}/plots/{name}", pages.eval_plot),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        exception_handlers={HTTPException: not_found, 500: not_found},
        lifespan=lifespan,
    )
