"""Object-store fixtures: a file store, and an S3 store on moto's standalone server."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from casefile.storage.filesystem import FileObjectStore
from casefile.storage.s3 import S3ObjectStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's standalone S3 server (it enforces Object Lock), on a free port for this session."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    port = _free_port()
    server_bin = Path(sys.executable).with_name("moto_server")
    command = ([str(server_bin)] if server_bin.exists()
               else [sys.executable, "-m", "moto.server"])
    process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()  # noqa: S310
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("moto_server exited on start") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket_url(moto_endpoint) -> str:
    """A fresh bucket with Object Lock enabled, as an OBJECT_STORE_URL."""
    bucket = f"casefile-{uuid.uuid4().hex[:12]}"
    S3ObjectStore(bucket, endpoint_url=moto_endpoint).ensure_bucket()
    return f"s3://{bucket}"


@pytest.fixture
def s3_store(moto_endpoint, s3_bucket_url) -> S3ObjectStore:
    return S3ObjectStore(s3_bucket_url.removeprefix("s3://"), endpoint_url=moto_endpoint)


@pytest.fixture
def file_store(tmp_path) -> FileObjectStore:
    return FileObjectStore(tmp_path / "store")


@pytest.fixture(params=["file", "s3"])
def store(request):
    return request.getfixturevalue(f"{request.param}_store")
