"""Container runtimes: the interface the kubelet drives, and the fake one kemu ships."""

from kubelet.runtime.interface import (
    ContainerConfig,
    ContainerConfigError,
    ContainerInfo,
    ContainerRuntime,
    ContainerState,
    ImagePullError,
    ProbeKind,
    ProbeResult,
)

__all__ = ["ContainerConfig", "ContainerConfigError", "ContainerInfo", "ContainerRuntime",
           "ContainerState", "ImagePullError", "ProbeKind", "ProbeResult"]
