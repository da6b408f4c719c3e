"""Model artefacts as bytes: serialised once, loaded only when their SHA-256 matches the stored one.

Format: ``MAGIC`` + zlib-compressed pickle (protocol 5). Loading is guarded twice:
1. the SHA-256 of the stored bytes must equal the hash recorded when the model was trained (a
   changed artefact is refused before anything is unpickled);
2. the unpickler resolves only an allow-list of globals — classes from scikit-learn and
   ``scoring.ml``, numpy's array/dtype/random-state reconstructors and a few harmless builtins — so
   even bytes whose hash was replaced too cannot name ``os.system`` or similar.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import pickle
import zlib

MAGIC = b"CRPD1\n"

_ALLOWED_EXACT = {
    ("builtins", "slice"), ("builtins", "object"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "complex"), ("builtins", "bytearray"),
    ("copyreg", "_reconstructor"),
    ("functools", "partial"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("sklearn.utils.validation", "check_array"),
    ("scoring.ml.pipeline", "_one_hot_name"),
}
_CLASS_MODULE_PREFIXES = ("sklearn.", "scoring.ml.", "numpy.")


class ArtefactIntegrityError(Exception):
    """The artefact's bytes do not match the recorded hash, or they name a global that is not allowed."""


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_EXACT:
            return super().find_class(module, name)
        if module.startswith(_CLASS_MODULE_PREFIXES) or module == "numpy":
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        raise ArtefactIntegrityError(f"The model artefact refers to {module}.{name}, which is not allowed.")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(model) -> bytes:
    return MAGIC + zlib.compress(pickle.dumps(model, protocol=5), 6)


def loads(data: bytes, *, expected_sha256: str):
    """Verify the hash, then unpickle through the allow-list. Raises :class:`ArtefactIntegrityError`."""
    data = bytes(data)
    if not expected_sha256 or not hmac.compare_digest(sha256(data), expected_sha256):
        raise ArtefactIntegrityError("The model artefact does not match its recorded SHA-256; refusing to load it.")
    if not data.startswith(MAGIC):
        raise ArtefactIntegrityError("The model artefact is not in the expected format.")
    try:
        raw = zlib.decompress(data[len(MAGIC):])
    except zlib.error as exc:
        raise ArtefactIntegrityError("The model artefact is corrupt.") from exc
    return _AllowListUnpickler(io.BytesIO(raw)).load()
