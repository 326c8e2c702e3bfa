"""Reading the start of a data file, to tell what it is before a parser fails on it."""
from derivtrain.errors import DataError


def first_bytes(path, key: str, n: int) -> bytes:
    """The file's first n bytes; an unreadable file is one line naming the key."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as err:
        raise DataError(f"{key}={path} cannot be read ({err.strerror or err})") from None
