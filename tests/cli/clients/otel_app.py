"""Spans from the real OpenTelemetry Python SDK, exported with its OTLP/HTTP (protobuf) exporter
to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: a SERVER span of service "inventory" answering GET /stock
(status 503 on the second request) with a CLIENT child calling payments.example.com. Prints one
JSON line with the trace ids (X-Ray form) it made.
"""
import json

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

provider = TracerProvider(resource=Resource.create({"service.name": "inventory"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("otel_app")

ids = []
for status in (200, 503):
    with tracer.start_as_current_span("GET /stock", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", "GET")
        span.set_attribute("url.full", "http://inventory.example/stock")
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as call:
            call.set_attribute("http.request.method", "GET")
            call.set_attribute("url.full", "https://payments.example.com/hold")
            call.set_attribute("server.address", "payments.example.com")
            call.set_attribute("http.response.status_code", 200)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, "upstream unavailable"))
        hex_id = format(span.get_span_context().trace_id, "032x")
        ids.append("1-%s-%s" % (hex_id[:8], hex_id[8:]))
provider.shutdown()
print(json.dumps({"traces": ids}))
