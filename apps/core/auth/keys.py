"""Signing and verification keys. The signing key comes from JWT_PRIVATE_KEY (only the users
service needs it); verification keys from JWT_PUBLIC_KEYS (a JWKS document or PEM public keys),
else from the signing key. Without either, outside production, a development key is generated
once under VAR_DIR so every local process (all-in-one or the split stack) shares it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
_dev_key_lock = threading.Lock()


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    key: rsa.RSAPublicKey

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint: stable for a key, so rotation needs no hand-assigned ids."""
    numbers = public_key.public_numbers()
    canonical = json.dumps(
        {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _load_private_pem(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured("JWT_PRIVATE_KEY must be an RSA private key in PEM form.")
    return key


def _development_key(path: Path) -> rsa.RSAPrivateKey:
    with _dev_key_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Write-then-rename so concurrent first runs never read a half-written key.
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(pem)
            temporary.chmod(0o600)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        return _load_private_pem(path.read_text())


@cache
def signing_key() -> tuple[str, rsa.RSAPrivateKey]:
    if settings.JWT_PRIVATE_KEY:
        key = _load_private_pem(settings.JWT_PRIVATE_KEY)
    elif settings.JWT_ALLOW_DEV_KEY:
        key = _development_key(Path(settings.JWT_DEV_KEY_PATH))
    else:
        raise ImproperlyConfigured("JWT_PRIVATE_KEY is not set.")
    return key_id(key.public_key()), key


def _parse_public_keys(value: str) -> list[rsa.RSAPublicKey]:
    value = value.strip()
    if value.startswith("{"):
        return [RSAAlgorithm.from_jwk(json.dumps(jwk)) for jwk in json.loads(value)["keys"]]
    marker = "-----END PUBLIC KEY-----"
    pems = [chunk + marker for chunk in value.split(marker) if chunk.strip()]
    return [serialization.load_pem_public_key(pem.strip().encode()) for pem in pems]


@cache
def verification_keys() -> dict[str, VerificationKey]:
    if settings.JWT_PUBLIC_KEYS:
        public_keys = _parse_public_keys(settings.JWT_PUBLIC_KEYS)
    else:
        public_keys = [signing_key()[1].public_key()]
    return {key_id(key): VerificationKey(key_id(key), key) for key in public_keys}


def jwks() -> dict[str, Any]:
    return {"keys": [key.jwk() for key in verification_keys().values()]}
