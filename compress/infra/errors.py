"""Errors the user can act on: each names the input at fault and the fix."""


class CompressError(Exception):
    """A problem with the user's input, config or environment, with the fix in the message."""


class MissingRequirement(CompressError):
    """A stage needs something this machine lacks (a key, a GPU, a package, a model)."""


class NotImplementedBackend(CompressError):
    """A config option names a part that does not exist yet."""
