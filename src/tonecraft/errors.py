"""User-facing error types.

Every failure a user can cause (bad audio, bad file, unknown model) raises a subclass of
`TonecraftError` with a message that says what went wrong and what to do. The CLI prints the
message and exits non-zero instead of showing a traceback.
"""


class TonecraftError(Exception):
    """Base class for errors caused by user input or the environment, not by a bug."""


class AudioError(TonecraftError):
    """Audio that cannot be read, written or used (missing, corrupt, empty, NaN, bad rate)."""


class UnsupportedFormatError(AudioError):
    """A file type no installed backend can read or write."""


class CompressedFileError(TonecraftError):
    """A compressed audio file that is corrupt, truncated or not ours."""


class CheckpointError(TonecraftError):
    """A model checkpoint that is missing, malformed or does not match its config."""


class ModelNotFoundError(TonecraftError):
    """An unknown model name, or a known one whose files are not available offline."""


class ConfigError(TonecraftError):
    """An invalid configuration value or generation parameter."""


class OutputError(TonecraftError):
    """A file that cannot be written (folder not creatable, permission denied, disk full)."""


class Interrupted(TonecraftError):
    """Work stopped by a signal after saving what it had (a training checkpoint); exits 128 + signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + int(signum)
