"""Dictation: ``input.transcribe`` audio to OpenAI's transcription endpoint, text back.

ChatKit records in the browser and sends base64 audio (``audio/webm;codecs=opus``, ``audio/mp4``
or ``audio/ogg``); the text it gets back lands in the composer for the user to edit and send.
The type and size are checked before anything leaves the function, and OpenAI's failures
become the same domain errors (and statuses) as everywhere else, without OpenAI's own message.
"""

from __future__ import annotations

from chatkit.types import AudioInput, TranscriptionResult
from openai import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
)

from chatkit_backend import limits
from chatkit_backend.errors import (
    InvalidInput,
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from chatkit_backend.observability.logs import logger
from chatkit_backend.openai_api.retry import retry_after_seconds

# The media types ChatKit records, plus the common uploads OpenAI also reads; file name suffix for each.
AUDIO_TYPES = {
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
}


def check_audio(audio: AudioInput) -> str:
    """The file name to send the audio as; InvalidInput naming what is accepted otherwise."""
    suffix = AUDIO_TYPES.get(audio.media_type.strip().lower())
    if suffix is None:
        raise InvalidInput(
            f"Audio of type '{audio.mime_type[:100]}' cannot be transcribed. Accepted: {', '.join(AUDIO_TYPES)}."
        )
    if not audio.data:
        raise InvalidInput("The recording is empty.")
    if len(audio.data) > limits.DICTATION_AUDIO_MAX_BYTES:
        raise InvalidInput(
            f"The recording is {len(audio.data)} bytes; dictation takes at most {limits.DICTATION_AUDIO_MAX_BYTES} bytes "
            "(about 12 minutes). Record a shorter message."
        )
    return f"dictation.{suffix}"


async def transcribe(client: AsyncOpenAI, model: str, audio: AudioInput) -> TranscriptionResult:
    """The text of ``audio``, transcribed by ``model``."""
    filename = check_audio(audio)
    try:
        transcription = await client.audio.transcriptions.create(
            model=model, file=(filename, audio.data, audio.media_type), response_format="json"
        )
    except APITimeoutError:
        raise UpstreamTimeout("OpenAI did not transcribe the recording in time. Try again.") from None
    except APIConnectionError:
        raise UpstreamUnavailable(
            "OpenAI could not be reached to transcribe the recording. Try again."
        ) from None
    except RateLimitError as error:
        _log_refusal(error)
        raise RateLimited(
            "OpenAI is rate limiting transcriptions. Try again shortly.",
            retry_after_seconds(error.response.headers),
        ) from None
    except (AuthenticationError, PermissionDeniedError) as error:
        _log_refusal(error)
        raise UpstreamRejected(
            "OpenAI rejected the server's API key; the operator must fix OpenAIApiKeySecret."
        ) from None
    except APIStatusError as error:
        _log_refusal(error)
        if error.status_code >= 500:
            raise UpstreamUnavailable(
                "OpenAI failed to transcribe the recording. Try again in a moment."
            ) from None
        raise UpstreamRejected(
            f"OpenAI could not transcribe the recording (status {error.status_code}); check TranscriptionModel."
        ) from None
    except (APIResponseValidationError, ValueError) as error:
        # A 200 whose body is not JSON (a proxy's error page, a cut answer): the SDK fails to read it.
        raise _not_a_transcript(type(error).__name__) from None
    # The SDK hands back the text of a 200 that is not JSON, and does not check the document's shape.
    text = getattr(transcription, "text", None)
    if not isinstance(text, str):
        raise _not_a_transcript(type(transcription).__name__)
    return TranscriptionResult(text=text.strip())


def _not_a_transcript(what: str) -> UpstreamUnavailable:
    logger.warning("openai answered the transcription with something else", extra={"answer": what})
    return UpstreamUnavailable(
        "OpenAI answered the transcription with something else than a transcript. Try again."
    )


def _log_refusal(error: APIStatusError) -> None:
    # Status, code and request id identify the failure; OpenAI's message may quote the key.
    logger.warning(
        "openai refused the transcription",
        extra={"status": error.status_code, "code": error.code, "request_id": error.request_id},
    )
