"""An in-process API server over the test etcd, for tests that look inside it (its watch
cache, its registries)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controlplane.apiserver.api import Api
from controlplane.storage.etcd import EtcdStore
from kemu.timing import FAST


@pytest.fixture
async def api(store: EtcdStore) -> AsyncIterator[Api]:
    instance = Api(store, FAST)
    await instance.start()
    yield instance
    await instance.stop()
