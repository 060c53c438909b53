"""The HTTP API and the studio page of `tonecraft serve` (FastAPI): routes only; the queue is jobs.py.

    app = create_app(ServeConfig(data_dir, {"tonecraft-default": model}))   # then uvicorn.run(app, ...)

Routes: /health, /v1/models, /v1/jobs (POST, GET history), /v1/jobs/{id} (GET, DELETE = cancel or remove),
/v1/jobs/{id}/events (SSE), /v1/jobs/{id}/audio/{k}, /v1/jobs/{id}/stream?variant=k (WAV while generating),
/v1/uploads, and the page at / with its assets under /static (all local).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import struct
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from .. import vorbis_comments
from ..audio import load_audio, read_tags, resample, save_audio
from ..conditioning.tempo import parse_bpm
from ..models.loop_audio import BarGrid
from ..models.params import GenerationParams
from . import uploads
from .cached_models import OnDemandModel
from .cleanup import Janitor
from .jobs import JobManager, QueueFull, extend_stride
from .schemas import AudioFormat, JobRequest, Problem, error_response, install_error_handlers
from .store import TERMINAL, Store
from .uploads import UploadRejected, accept_upload, read_capped

STATIC = Path(__file__).parent / "static"
COOKIE = "tonecraft_token"
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file
MEDIA = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg"}


@dataclass
class ServeConfig:
    data_dir: Path
    models: dict  # name -> loaded MusicGen / AudioGen, or an OnDemandModel (cached; loaded by its first job)
    token: str | None = None
    max_queue: int = 32
    max_duration: float = 120.0
    upload_ttl: float = 24 * 3600.0  # seconds an upload no job references is kept
    max_disk_bytes: int | None = None  # refuse new uploads and jobs (507) while the data folder is this big


def model_info(name: str, model) -> dict:
    family = getattr(model, "family", "musicgen")
    on_demand = isinstance(model, OnDemandModel)
    # what a job that omits them uses: the checkpoint's own (tonecraft's shipped models), else audiocraft's
    sampling = getattr(model, "model_params", None) or GenerationParams()
    return {"name": name, "kind": "sfx" if family == "audiogen" else "music", "sample_rate": model.sample_rate,
            "channels": model.audio_channels, "window_s": model.max_duration,
            "capabilities": {"melody": bool(getattr(model, "is_melody", False)), "continuation": True,
                             "stereo": model.audio_channels == 2},
            "source": "cache" if on_demand else "loaded", "loaded": not on_demand,
            "defaults": {"top_k": sampling.top_k, "temperature": sampling.temperature, "cfg": sampling.cfg_coef}}


def create_app(config: ServeConfig) -> FastAPI:
    data_dir = Path(config.data_dir)
    (data_dir / "audio").mkdir(parents=True, exist_ok=True)
    (data_dir / "uploads").mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "tonecraft.db")
    manager = JobManager(store, data_dir, config.models, config.max_queue)
    janitor = Janitor(store, data_dir, config.upload_ttl, config.max_disk_bytes)
    infos = {name: model_info(name, m) | {"max_duration": config.max_duration} for name, m in config.models.items()}

    @asynccontextmanager
    async def lifespan(app):
        manager.start()
        janitor.start()
        try:
            yield
        finally:
            janitor.close()
            manager.close()
            store.close()

    app = FastAPI(title="tonecraft", description="Local music and sound-effect generation.", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.manager, app.state.store, app.state.janitor = manager, store, janitor
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def upload_size(request: Request, call_next):
        """Refuse an announced oversized upload before its body is read (and spooled to disk)."""
        length = request.headers.get("content-length", "")
        if request.url.path == "/v1/uploads" and length.isdigit() and \
                int(length) > uploads.MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD:
            return error_response(400, f"the upload is larger than the {uploads.MAX_UPLOAD_BYTES / 2**20:g} MiB limit")
        return await call_next(request)

    @app.middleware("http")
    async def auth(request: Request, call_next):
        if config.token is None:
            return await call_next(request)
        given = request.headers.get("authorization", "")
        given = given[7:] if given.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        from_query = request.query_params.get("token", "")
        if not (_same(given, config.token) or _same(from_query, config.token)):
            return JSONResponse({"error": "missing or wrong token: send 'Authorization: Bearer <token>'"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        response = await call_next(request)
        if from_query:  # the page was opened with ?token=: remember it for its own requests
            response.set_cookie(COOKIE, config.token, httponly=True, samesite="strict")
        return response

    def get_job(job_id: str) -> dict:
        job = store.job(job_id)
        if job is None:
            raise Problem(404, f"no job {job_id!r}")
        return job

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    @app.get("/health")
    def health():
        """Liveness and the models offered (loaded, or found in the cache and loaded by their first job)."""
        return {"status": "ok", "models": list(config.models), "queued": manager.queued_count()}

    @app.get("/v1/models")
    def models():
        """Models: kind (music / sfx), sample rate, limits, capabilities; `source` "cache" = an official model
        found in the local Hugging Face cache, loaded by its first job (`loaded` says whether it is now)."""
        return {"models": [info | manager.load_state(name) for name, info in infos.items()]}

    @app.post("/v1/jobs", status_code=202)
    def submit(req: JobRequest):
        """Queue a generation; returns its id at once (poll /v1/jobs/{id} or listen to /events)."""
        name = req.model or next(iter(config.models))
        if name not in config.models:
            raise Problem(400, f"unknown model {name!r}; loaded: {', '.join(config.models)}")
        model = config.models[name]
        params = req.model_dump()
        params["model"] = name
        with janitor.lock:  # an upload checked here cannot expire before the job that references it is stored
            clip = upload_seconds(req.continuation)
            if req.loop or req.model_fields_set & {"bars", "bpm", "meter"}:
                params.update(check_loop(req, name, model))
            if req.segments is not None:
                check_segments(req, name, model)
                params.update(prompt=req.segments[0].prompt, duration=sum(s.duration for s in req.segments) + clip)
                if len(req.segments) == 1:  # one segment is a plain job (its duration counts the clip)
                    params["segments"] = None
            elif req.continuation is not None and clip >= req.duration:
                raise Problem(400, f"the continuation audio is {clip:.1f} s: the duration (which counts it) must "
                                   f"be longer")
            duration = params["duration"]
            what = "the loop's length" if req.loop else "the segments' total" if req.segments else "duration"
            if duration > config.max_duration:
                raise Problem(400, f"{what} {duration:g} s is above this server's {config.max_duration:.0f} s limit")
            if round(duration * model.frame_rate) < 1:
                raise Problem(400, f"duration {duration} s is shorter than one frame of {name}")
            GenerationParams(duration=duration, top_p=req.top_p, extend_stride=extend_stride(model)).with_given(
                top_k=req.top_k, temperature=req.temperature, cfg_coef=req.cfg).validate(model.max_duration)
            if req.melody is not None:
                if not infos[name]["capabilities"]["melody"]:
                    raise Problem(400, f"{name} is not a melody model: it cannot follow a melody")
                params["melody_file"] = str(upload_path(req.melody))
            if req.continuation is not None:
                params["continuation_file"] = str(upload_path(req.continuation))
            check_disk()
            seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
            try:
                job_id = manager.submit(name, params, seed, req.n)
            except QueueFull:
                raise Problem(429, f"the queue is full ({config.max_queue} jobs waiting); try again later",
                              {"Retry-After": "10"}) from None
        return {"id": job_id, "status": "queued", "seed": seed, "url": f"/v1/jobs/{job_id}"}

    def check_segments(req: JobRequest, name: str, model) -> None:
        if req.model_fields_set & {"prompt", "duration"}:
            raise Problem(400, "give either prompt and duration, or segments (each with its own prompt and duration)")
        if req.melody is not None and len(req.segments) > 1:
            raise Problem(400, "a melody cannot be combined with several segments (each later segment would "
                               "restart it)")
        for i, seg in enumerate(req.segments, 1):
            if round(seg.duration * model.frame_rate) < 1:
                raise Problem(400, f"segment {i}: duration {seg.duration:g} s is shorter than one frame of {name}")

    def check_loop(req: JobRequest, name: str, model) -> dict:
        """A loop's settings checked before it is queued; returns its length and tempo for the params."""
        if not req.loop:
            raise Problem(400, "bars / bpm / meter are loop settings: pass \"loop\": true")
        if getattr(model, "family", "musicgen") != "musicgen":
            raise Problem(400, f"{name} is a sound-effects model: loops need a music model")
        if req.bars is None:
            raise Problem(400, "a loop needs \"bars\": its length in bars")
        if "duration" in req.model_fields_set:
            raise Problem(400, "a loop takes its length from bars and the tempo: drop duration")
        if req.segments is not None or req.continuation is not None or req.melody is not None:
            raise Problem(400, "a loop cannot be combined with segments, continuation or melody")
        tempo = req.bpm if req.bpm is not None else parse_bpm(req.prompt)
        if tempo is None:
            raise Problem(400, "a loop needs its tempo up front: give bpm, or put it in the prompt "
                               "('90 bpm', 'slow', 'upbeat')")
        grid = BarGrid.parse(tempo, req.meter)  # a bad bpm or meter: ConfigError -> 400 with its message
        return {"duration": round(req.bars * grid.bar_seconds, 6), "tempo_bpm": float(tempo), "meter": grid.meter}

    def upload_seconds(upload_id: str | None) -> float:
        if upload_id is None:
            return 0.0
        up = store.upload(upload_id)
        if up is None:
            raise Problem(400, f"no upload {upload_id!r} (POST the audio to /v1/uploads first)")
        return up["seconds"]

    def check_disk() -> None:
        used = janitor.over_cap()
        if used is not None:
            raise Problem(507, f"the data folder holds {used / 2**20:.0f} MiB, at its "
                               f"{config.max_disk_bytes / 2**20:.0f} MiB cap: delete old jobs first")

    def upload_path(upload_id: str) -> Path:
        up = store.upload(upload_id)
        if up is None:
            raise Problem(400, f"no upload {upload_id!r} (POST the audio to /v1/uploads first)")
        return data_dir / "uploads" / up["file"]

    @app.get("/v1/jobs")
    def history(limit: int = Query(20, ge=1, le=200), before: float | None = Query(None, allow_inf_nan=False)):
        """Past and current jobs, newest first; pass the last job's `created` as `before` for the next page."""
        jobs = [manager.describe(j) for j in store.jobs(limit, before)]
        return {"jobs": jobs, "next_before": jobs[-1]["created"] if len(jobs) == limit else None}

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: str):
        """Status, queue position, progress (0..1), ETA, parameters, seed, timings, error."""
        return manager.describe(get_job(job_id))

    @app.delete("/v1/jobs/{job_id}")
    def delete(job_id: str):
        """Cancel a queued or running job; delete a finished one, its files and the uploads only it used."""
        job = get_job(job_id)
        if job["status"] in TERMINAL:
            return {"id": job_id, "deleted": True, "uploads_deleted": janitor.delete_job(job_id)}
        manager.cancel(job_id)
        return JSONResponse({"id": job_id, "status": "cancelling"}, status_code=202)

    @app.get("/v1/jobs/{job_id}/events")
    async def events(job_id: str, request: Request):
        """Server-Sent Events: `progress` while queued/running, then one `done`, `failed` or `cancelled`."""
        get_job(job_id)

        async def stream():
            last, idle = None, 0.0
            while not await request.is_disconnected():
                job = store.job(job_id)
                if job is None:
                    yield "event: deleted\ndata: {}\n\n"
                    return
                state = manager.describe(job)
                key = (state["status"], round(state["progress"], 3), state["position"])
                if state["status"] in TERMINAL:
                    yield f"event: {state['status']}\ndata: {json.dumps(state)}\n\n"
                    return
                if key != last:
                    last, idle = key, 0.0
                    yield f"event: progress\ndata: {json.dumps(state)}\n\n"
                elif idle > 15:
                    idle = 0.0
                    yield ": ping\n\n"
                await asyncio.sleep(0.2)
                idle += 0.2

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/jobs/{job_id}/audio/{k}")
    def audio(job_id: str, k: int, format: AudioFormat | None = None):
        """The k-th variant of a finished job as wav, flac, ogg (Vorbis) or mp3."""
        job = get_job(job_id)
        if job["status"] != "done":
            raise Problem(409, f"job {job_id} is {job['status']}: no audio")
        if not 0 <= k < job["n"]:
            raise Problem(404, f"job {job_id} has variants 0..{job['n'] - 1}")
        fmt = format or job["params"].get("format", "wav")
        wav_path = manager.audio_path(job_id, k)
        if not wav_path.exists():
            raise Problem(404, f"the audio of job {job_id} is gone")
        path = manager.audio_path(job_id, k, "." + fmt)
        if not path.exists():
            wav, sr = load_audio(wav_path)
            if fmt in ("mp3", "ogg") and sr < 8000:  # these codecs need ordinary rates
                wav, sr = resample(wav, sr, 16000), 16000
            save_audio(path, wav, sr, normalize="none", tags=read_tags(wav_path))  # the labels travel along
            if job["params"].get("loop") and fmt in ("ogg", "flac"):  # loop points as engines read them
                vorbis_comments.set_comments(path, vorbis_comments.loop_tags(0, wav.shape[-1]))
        return FileResponse(path, media_type=MEDIA[fmt], filename=f"tonecraft-{job_id}-{k}.{fmt}")

    @app.get("/v1/jobs/{job_id}/stream")
    async def stream_audio(job_id: str, variant: int = Query(0, ge=0, description="which of the n variants")):
        """A variant as a WAV that grows while the job runs (open-ended header; browsers play it at once);
        once the job is done, its WAV file."""
        job = get_job(job_id)
        if variant >= job["n"]:
            raise Problem(404, f"job {job_id} has variants 0..{job['n'] - 1}")
        live = manager.live.get(job_id)
        if live is None:
            job = get_job(job_id)
            if job["status"] == "done":
                return FileResponse(manager.audio_path(job_id, variant), media_type="audio/wav")
            raise Problem(409, f"job {job_id} is {job['status']}: no audio")
        parts = live.chunks[variant]

        async def chunks():
            yield wav_header(live.sample_rate, live.channels)
            sent = 0
            while True:
                if sent < len(parts):
                    sent += 1
                    yield parts[sent - 1]
                elif live.finished:
                    return
                else:
                    await asyncio.sleep(0.05)

        return StreamingResponse(chunks(), media_type="audio/wav", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/uploads", status_code=201)
    def upload(file: UploadFile = File(...)):
        """Reference audio for `melody` / `continuation` (decoded and checked before it is accepted)."""
        check_disk()
        try:
            data = read_capped(file.file)
            return accept_upload(store, data_dir / "uploads", file.filename, data)
        except UploadRejected as exc:
            raise Problem(400, str(exc)) from None

    return app


def wav_header(sample_rate: int, channels: int) -> bytes:
    """44-byte PCM16 header with unknown sizes (0xFFFFFFFF), as streaming writers emit it."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16) +
            b"data" + struct.pack("<I", unknown))


def _same(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())

