"""The server's Prometheus metrics (`GET /metrics`), in a registry of its own per application.

Label values are bounded: routes are the app's route templates (anything else is `other`), providers
LiteLLM's provider names, reasons a fixed set. No label or value ever holds request content or a key.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
# seconds: from sub-millisecond baselines to a generative model on a busy CPU
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """Counters, gauges and histograms of one server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "compress_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "compress_http_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.tokens_in = Counter(
            "compress_tokens_in", "Tokens of the texts sent to the compressor", ["route"], registry=r
        )
        self.tokens_out = Counter(
            "compress_tokens_out", "Tokens of the texts the compressor gave back", ["route"], registry=r
        )
        self.texts = Counter("compress_texts", "Texts handled, by outcome", ["route", "status"], registry=r)
        self.passthroughs = Counter(
            "compress_passthroughs",
            "Texts returned unchanged, by reason (loading, compressor_error, compressor)",
            ["route", "reason"],
            registry=r,
        )
        self.errors = Counter(
            "compress_errors", "Requests answered with an error, by kind", ["route", "kind"], registry=r
        )
        self.compressor_failures = Counter(
            "compress_compressor_failures", "Compressor calls that raised or whose worker died", registry=r
        )
        self.worker_restarts = Counter(
            "compress_worker_restarts", "Compressor workers started again after one died", registry=r
        )
        self.compress_seconds = Histogram(
            "compress_compressor_seconds", "Compressor time per call", buckets=BUCKETS, registry=r
        )
        self.upstream = Counter(
            "compress_upstream_requests",
            "Calls to providers through the proxy, by outcome",
            ["provider", "outcome"],
            registry=r,
        )
        self.upstream_retries = Counter(
            "compress_upstream_retries", "Provider calls tried again", ["provider"], registry=r
        )
        self.ready = Gauge(
            "compress_ready", "1 when the compressor is loaded, 0 while loading or failed", registry=r
        )
        self.in_flight = Gauge("compress_requests_in_flight", "Requests being answered", registry=r)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
