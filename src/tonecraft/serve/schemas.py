"""What the API accepts (pydantic models, so `/docs` documents them) and how every error leaves as JSON.

Bad input is a 400/422 JSON body `{"error": "<message>"}`; nothing echoes the offending value back (a NaN
would not even encode as JSON) and no handler ever shows a stack trace.
"""
from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import TonecraftError
from .segments import MAX_SEGMENTS

MAX_SEED = 2**63 - 1  # SQLite INTEGER
AudioFormat = Literal["wav", "flac", "ogg", "mp3"]


class SegmentRequest(BaseModel):
    """One part of a multi-prompt piece: its prompt and the seconds of new audio it adds."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", max_length=2000, description="text prompt of this part; empty = unconditional")
    duration: float = Field(gt=0, allow_inf_nan=False, description="seconds of new audio")


class JobRequest(BaseModel):
    """POST /v1/jobs. Omitted fields take the model family's defaults (audiocraft's)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", max_length=2000, description="text prompt; empty = unconditional")
    model: str | None = Field(None, max_length=200, description="a name from /v1/models; default: the first")
    duration: float = Field(8.0, gt=0, allow_inf_nan=False, description="seconds (at most the server's limit)")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="omit for a random seed (returned in the job)")
    top_k: int | None = Field(None, ge=0, le=100_000, description="omit for the model's default")
    top_p: float = Field(0.0, ge=0, le=1, allow_inf_nan=False)
    temperature: float | None = Field(None, ge=0, le=100, allow_inf_nan=False,
                                      description="omit for the model's default")
    cfg: float | None = Field(None, ge=0, le=100, allow_inf_nan=False,
                              description="classifier-free guidance coefficient; omit for the model's default")
    n: int = Field(1, ge=1, le=8, description="variants, generated as one batch")
    format: AudioFormat = Field("wav", description="default format of /audio/{k}")
    melody: str | None = Field(None, max_length=64, description="upload id: melody reference (melody models)")
    continuation: str | None = Field(None, max_length=64, description="upload id: audio to continue")
    drop_prompt: bool = Field(False, description="with continuation: return only the new part")
    segments: list[SegmentRequest] | None = Field(
        None, min_length=1, max_length=MAX_SEGMENTS,
        description="multi-prompt piece: parts generated in order as one clip, each continuing the audio so far "
                    "with its own prompt (replaces prompt and duration; the total is limited like duration)")
    loop: bool = Field(False, description="a seamless loop of `bars` bars (replaces duration; music models)")
    bars: int | None = Field(None, ge=1, le=256, description="with loop: its length in bars")
    bpm: float | None = Field(None, allow_inf_nan=False,
                              description="with loop: its tempo (default: the prompt's, e.g. '90 bpm' or 'slow')")
    meter: str = Field("4/4", max_length=8, description="with loop: the bar, e.g. 4/4, 3/4, 6/8")
    watermark: bool = Field(True, description="watermark the audio (see `tonecraft detect`); false: not marked, "
                                              "and the file's labels say so")


class Problem(Exception):
    """An expected failure with an HTTP status and a message (headers: e.g. Retry-After)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def install_error_handlers(app) -> None:
    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return JSONResponse({"error": message, "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(TonecraftError)
    async def tonecraft(request: Request, exc: TonecraftError):
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        return error_response(500, f"internal error ({type(exc).__name__})")
