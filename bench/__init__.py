"""Benchmarks: one command each, printing a table and writing JSON under bench/results/."""

from launcher import grpc_io

# Before any benchmark module imports gRPC: the benchmark's own client, the one that measures
# the store ceiling included, then talks gRPC the way the control plane does.
grpc_io.configure()
