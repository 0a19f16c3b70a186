"""The package's base error. The CLI prints these as one line, without a traceback."""


class AtomflowError(Exception):
    """Base class for user-facing errors: the message names the input and the fix."""


class InputError(AtomflowError, ValueError):
    """Bad user input: a spec key, a value out of range, a missing file."""


class StoreIntegrityError(AtomflowError, RuntimeError):
    """A stored record does not hash to its key, or the schema is of another version."""
