"""An in-process API server over the test etcd, for tests that look inside it (its watch
cache, its registries), and a second one for the writes of another control plane."""

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


@pytest.fixture
async def other(etcd_endpoint: str) -> AsyncIterator[Api]:
    """Another control plane's API server on the same etcd, with its own connection."""
    own_store = EtcdStore([etcd_endpoint])
    instance = Api(own_store, FAST)
    await instance.start()
    yield instance
    await instance.stop()
    await own_store.close()
