"""The timeline plot on synthetic data: a real PNG of the promised size."""

from __future__ import annotations

import struct
import zlib

from chaoskit.report.plot import HEIGHT_PX, WIDTH_PX, timeline_png
from chaoskit.report.record import ExperimentRecord

T0 = 1_760_000_000.0


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and chunk CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    body = png[16:29]
    (crc,) = struct.unpack(">I", png[29:33])
    assert crc == zlib.crc32(kind + body)
    width, height = struct.unpack(">II", body[:8])
    return width, height


def fault(i: int) -> bool:
    return 20 <= i < 50


def synthetic() -> ExperimentRecord:
    return ExperimentRecord(
        name="test_broker_loss",
        started_at=T0,
        ended_at=T0 + 90,
        timeline_windows=[
            {
                "name": "latency",
                "target": "workflow-service->kafka",
                "params": {"ms": 800},
                "injected_at": T0 + 20,
                "healed_at": T0 + 50,
            },
            {"name": "down", "target": "document-service", "params": {}, "injected_at": T0 + 35, "healed_at": None},
        ],
        seconds=[
            {
                "time": T0 + i,
                "requests": 200,
                "failures": 9 if fault(i) else 0,
                "rps": 80 if fault(i) else 200,
                "p50": 12,
                "p95": 900 if fault(i) else 40,
                "p99": 1200 if fault(i) else 60,
            }
            for i in range(90)
        ],
        dlq_sizes=[(T0 + i, (i - 20) * 3 if fault(i) else 0) for i in range(90)],
        convergence=[(T0 + i, 0.6 if 20 <= i < 70 else 1.0) for i in range(0, 90, 3)],
    )


def test_timeline_is_a_real_png_of_1400_by_900() -> None:
    png = timeline_png(synthetic())
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX) == (1400, 900)
    assert png.endswith(b"IEND\xaeB`\x82")
    assert len(png) > 30_000  # three drawn panels, not a blank canvas


def test_seconds_without_latency_are_gaps_not_errors() -> None:
    record = synthetic()
    for second in record.seconds[20:30]:
        second.update(rps=0.0, p50=None, p95=None, p99=None)  # nothing succeeded: no percentile
    assert png_size(timeline_png(record)) == (1400, 900)


def test_empty_record_still_draws() -> None:
    png = timeline_png(ExperimentRecord(name="nothing measured", started_at=T0, ended_at=T0 + 5), 700, 450)
    assert png_size(png) == (700, 450)
