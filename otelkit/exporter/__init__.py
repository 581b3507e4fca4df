"""Span exporters: a direct OTLP protobuf encoder, OTLP/HTTP with zstd/gzip/deflate, OTLP over Kafka.

Submodules are imported on use so optional dependencies (Kafka clients) stay optional.
"""
