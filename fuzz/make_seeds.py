#!/usr/bin/env python3
"""Write the committed seed corpora under fuzz/corpus/<target>/.

Seeds give libFuzzer a start it would take long to find alone: a push the server accepts
(desk creates and assigns, the technician works), well-formed tus metadata, tiny valid JPEG
and PNG files. Python's standard library only, plus `cjpeg` (libjpeg-turbo, which
scripts/install-deps installs) for the JPEGs. Deterministic: running it again rewrites the
same bytes.

    python3 fuzz/make_seeds.py
"""

import base64
import json
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"

# The ids and times the push seeds use. The push_ingest target receives every push at
# 2026-11-23T12:00:00Z, so the events sit a few hours before that.
JOB = "01900000-0000-7000-8000-000000000001"
JOB2 = "01900000-0000-7000-8000-000000000002"
TECH_A = "01900000-0000-7000-8000-000000000010"
DEVICE_A = "01900000-0000-7000-8000-000000000011"
TECH_B = "01900000-0000-7000-8000-000000000020"
DESK = "01900000-0000-7000-8000-000000000030"
SENT_MONO = 50_000_000  # the device's monotonic clock when it sends, ms since boot


def write(target: str, name: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# ---- push_ingest -------------------------------------------------------------------------


def order(kind: str) -> dict:
    o = {
        "kind": kind,
        "customer_name": "王女士",
        "address": "上海市浦东新区世纪大道 100 号 12 楼",
        "phone": "+86 138 0000 0000",
        "product_model": "KFR-35GW",
        "work": "install the air conditioner",
        "ordering_party": "Example Mall",
        "fee_basis": {"basis": "in_warranty"},
        "requires_verification": True,
    }
    if kind == "repair":
        o["severity"] = 2
        o["fee_basis"] = {"basis": "quoted", "amount_cents": 12000}
    if kind == "delivery_install":
        o["expected_pieces"] = 2
    return o


class Push:
    """Events in log order; technician events carry monotonic readings counted back from the
    push, as a phone within one boot would."""

    def __init__(self, job: str = JOB):
        self.job = job
        self.events = []
        self.n = 0

    def _event(self, actor: dict, minutes_before: int, body: dict, **extra) -> None:
        self.n += 1
        e = {
            "id": f"01910000-0000-7000-8000-{self.n:012x}",
            "job_id": extra.pop("job", self.job),
            "actor": actor,
            "recorded_at": at(minutes_before),
            "body": body,
        }
        e.update(extra)
        self.events.append(e)

    def desk(self, minutes_before: int, body: dict) -> None:
        self._event({"role": "dispatcher", "dispatcher_id": DESK}, minutes_before, body)

    def tech(self, minutes_before: int, body: dict, tech=(TECH_A, DEVICE_A), **extra) -> None:
        extra.setdefault("monotonic_ms", SENT_MONO - minutes_before * 60_000)
        extra.setdefault("device_seq", self.n + 1)
        actor = {"role": "technician", "technician_id": tech[0], "device_id": tech[1]}
        self._event(actor, minutes_before, body, **extra)

    def json(self) -> bytes:
        push = {
            "device_id": DEVICE_A,
            "sent_at": "2026-11-23T12:00:00Z",
            "sent_monotonic_ms": SENT_MONO,
            "events": self.events,
        }
        return json.dumps(push, ensure_ascii=False, separators=(",", ":")).encode()


def at(minutes_before: int) -> str:
    total = 12 * 60 - minutes_before
    day = 23
    while total < 0:
        total += 24 * 60
        day -= 1
    return f"2026-11-{day:02d}T{total // 60:02d}:{total % 60:02d}:00Z"


def sha(n: int) -> str:
    return f"{n:02x}" * 32


def push_seeds() -> None:
    # An install job worked from acceptance to the first checklist answers.
    p = Push()
    p.desk(300, {"type": "job_created", "order": order("install")})
    p.desk(290, {"type": "job_assigned", "technician_id": TECH_A})
    p.tech(280, {"type": "job_accepted"})
    p.tech(270, {"type": "customer_call_logged", "outcome": "reached", "note": "明天上午"})
    p.tech(265, {"type": "appointment_booked", "at": at(60), "note": "morning"})
    p.tech(50, {"type": "checked_in", "location": {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 8.0}})
    p.tech(45, {"type": "checklist_answered", "item_id": "uniform_badge", "answer": True})
    p.tech(44, {"type": "checklist_answered", "item_id": "drop_cloth", "answer": False, "note": "forgot"})
    p.tech(30, {"type": "work_marked_done", "note": "installed"})
    p.tech(25, {"type": "photo_captured", "photo": {"photo_id": "01920000-0000-7000-8000-000000000001", "category": "completion", "sha256": sha(1)}})
    p.tech(24, {"type": "signature_captured", "signature": {"signature_id": "01920000-0000-7000-8000-000000000002", "strokes_sha256": sha(2), "stroke_count": 3}})
    p.tech(20, {"type": "confirmation_code_entered", "code": "A7K2P9"})
    write("push_ingest", "install_worked.json", p.json())

    # A delivery: goods arrive, the pickup is damaged (an automatic blocking exception), the
    # desk lets the job proceed, then an exemption claim the desk decides.
    p = Push()
    p.desk(600, {"type": "job_created", "order": order("delivery_install")})
    p.desk(590, {"type": "job_assigned", "technician_id": TECH_A})
    p.tech(580, {"type": "job_accepted"})
    p.tech(500, {"type": "logistics_arrived", "arrived_at": at(520), "note": ""})
    p.tech(400, {"type": "photo_captured", "photo": {"photo_id": "01920000-0000-7000-8000-000000000003", "category": "pickup", "sha256": sha(3)}})
    p.tech(399, {"type": "pickup_recorded", "pieces": 1, "packaging": "damaged", "note": "box torn"})
    p.tech(398, {"type": "exemption_claimed", "claim_id": "01930000-0000-7000-8000-000000000001", "timer": "completion", "reason": "other", "note": "waiting for the mall"})
    p.desk(300, {"type": "exemption_decided", "claim_id": "01930000-0000-7000-8000-000000000001", "granted": True, "note": "ok"})
    write("push_ingest", "delivery_damaged.json", p.json())

    # Clocks: a reboot (monotonic reading after the push's) corrected by the offset, a wall
    # clock changed by a day, a device's own corrected_at, a reading out of bounds.
    p = Push()
    p.desk(200, {"type": "job_created", "order": order("repair")})
    p.desk(190, {"type": "job_assigned", "technician_id": TECH_A})
    p.tech(180, {"type": "job_accepted"}, monotonic_ms=SENT_MONO + 5_000, clock_offset_ms=-30_000)
    p.tech(170, {"type": "customer_call_logged", "outcome": "no_answer", "note": ""}, recorded_at="2026-11-22T09:10:00Z")
    p.tech(160, {"type": "customer_call_logged", "outcome": "busy", "note": ""}, corrected_at="2020-01-01T00:00:00Z")
    p.tech(150, {"type": "customer_call_logged", "outcome": "reached", "note": ""}, monotonic_ms=-1)
    p.tech(140, {"type": "exception_raised", "exception_id": "01940000-0000-7000-8000-000000000001", "kind": "extra_fee_needed", "note": "compressor", "photo_ids": []})
    p.desk(100, {"type": "exception_resolved", "exception_id": "01940000-0000-7000-8000-000000000001", "decision": "proceed", "note": "customer pays"})
    write("push_ingest", "clocks.json", p.json())

    # Conflicts: the desk reassigns while A works offline, A's late events are kept aside, the
    # desk cancels, acknowledges; a second job A never held; a repeated event id.
    p = Push()
    p.desk(300, {"type": "job_created", "order": order("install")})
    p.desk(290, {"type": "job_assigned", "technician_id": TECH_A})
    p.tech(280, {"type": "job_accepted"})
    p.desk(200, {"type": "job_assigned", "technician_id": TECH_B})
    p.tech(150, {"type": "customer_call_logged", "outcome": "reached", "note": "late"})
    p.desk(100, {"type": "job_cancelled", "reason": "customer withdrew"})
    p.tech(90, {"type": "work_marked_done", "note": "after the cancellation"})
    p.desk(80, {"type": "conflicts_acknowledged", "note": "seen"})
    p.tech(70, {"type": "job_accepted"}, job=JOB2)
    p.events.append(dict(p.events[2]))
    write("push_ingest", "conflicts.json", p.json())

    # Nothing but the smallest valid push.
    write("push_ingest", "empty.json", Push().json())


# The names a push's JSON uses beyond those in the seeds (event types, enum values), for
# libFuzzer's dictionary: mutations then splice whole names instead of finding them byte by byte.
# A hint, not a contract: a name missing here only makes the fuzzer slower to find it.
PUSH_NAMES = [
    # EventBody
    "job_created", "job_assigned", "job_cancelled", "order_amended", "exception_resolved",
    "exemption_decided", "return_visit_recorded", "complaint_filed", "complaint_answered",
    "complaint_closed", "conflicts_acknowledged", "appointment_booked", "job_accepted",
    "customer_call_logged", "logistics_arrived", "pickup_recorded", "exception_raised",
    "appointment_rescheduled", "checked_in", "checklist_answered", "photo_captured",
    "signature_captured", "work_marked_done", "confirmation_code_entered", "job_completed",
    "exemption_claimed", "checked_out",
    # Actor, JobKind, FeeBasis
    "technician", "dispatcher", "install", "delivery_install", "repair", "in_warranty", "quoted",
    "standard_schedule",
    # CallOutcome, Packaging, PhotoCategory, ExceptionDecision
    "reached", "no_answer", "busy", "unreachable", "wrong_number", "intact", "damaged", "pickup",
    "completion", "receipt", "exception", "signature", "proceed", "stop",
    # ExceptionKind
    "pickup_damaged", "pickup_count_mismatch", "goods_mismatch_order", "extra_fee_needed",
    "customer_absent", "reschedule_requested", "late_arrival", "damage_caused", "dispute",
    "conduct_violation", "completion_code_unavailable",
    # TimerKind, ExemptionReason
    "dispatch", "first_contact", "arrival_window", "repair_response", "repair_on_site",
    "return_visit", "complaint_answer", "complaint_result", "weather", "customer",
    "code_unavailable", "other",
    # Field names not in the seeds
    "purchase_date", "exception_id", "decision", "claim_id", "granted", "quality", "attitude",
    "complaint_id", "accepted", "result", "reason", "customer_consented", "pieces", "packaging",
    "photo_ids", "answer", "order", "arrived_at",
]


def push_dictionary() -> None:
    names = set(PUSH_NAMES)

    def walk(v) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                names.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for f in sorted((CORPUS / "push_ingest").glob("*.json")):
        walk(json.loads(f.read_bytes()))
    lines = [f'"\\"{n}\\""' for n in sorted(names)]
    lines += ['"null"', '"true"', '"false"', '"-9223372036854775808"', '"9223372036854775807"',
              '"+10000-01-01T00:00:00Z"', '"2026-11-23T12:00:00Z"', '"1e308"']
    path = CORPUS.parent / "dict" / "push_ingest.dict"
    path.parent.mkdir(exist_ok=True)
    path.write_text("# Written by make_seeds.py: JSON names and values of a push.\n" + "\n".join(lines) + "\n")


# ---- replay, time_correction: byte strings the generators read -------------------------


def random_seeds(target: str, sizes) -> None:
    rng = random.Random(target)
    for size in sizes:
        write(target, f"random_{size}.bin", bytes(rng.randrange(256) for _ in range(size)))


# ---- tus_headers -------------------------------------------------------------------------


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def tus_seeds() -> None:
    upload = ",".join(
        f"{k} {b64(v)}"
        for k, v in [
            ("photo_id", "01920000-0000-7000-8000-000000000001"),
            ("job_id", JOB),
            ("sha256", sha(0xAB).upper()),
            ("filename", "completion-1.jpg"),
            ("filetype", "image/jpeg"),
        ]
    )
    write("tus_headers", "client_upload.txt", upload.encode())
    write("tus_headers", "no_value.txt", b"is_confidential, filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==")
    write("tus_headers", "chinese_filename.txt", f"filename {b64('完工照片.jpg')},filetype {b64('image/png')}".encode())
    write("tus_headers", "not_base64.txt", b"filename ???,,  ,sha256 " + base64.b64encode(b"\xff\xfe"))
    write("tus_headers", "jpeg_head.bin", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    write("tus_headers", "png_head.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


# ---- photo_decode ------------------------------------------------------------------------


def png(width: int, height: int, color_type: int, bit_depth: int, pixel) -> bytes:
    """A PNG from a pixel function giving each sample's value, filter 0 on every row."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    fmt = ">H" if bit_depth == 16 else ">B"
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            for c in range(channels):
                raw += struct.pack(fmt, pixel(x, y, c))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")


def ppm(width: int, height: int) -> bytes:
    body = bytes(
        v
        for y in range(height)
        for x in range(width)
        for v in ((x * 255) // max(width - 1, 1), (y * 255) // max(height - 1, 1), 128)
    )
    return f"P6 {width} {height} 255\n".encode() + body


def cjpeg(ppm_bytes: bytes, *args: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.ppm"
        src.write_bytes(ppm_bytes)
        return subprocess.run(["cjpeg", *args, str(src)], check=True, capture_output=True).stdout


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """An APP1 EXIF segment with one IFD entry, Orientation, inserted after SOI."""
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def photo_seeds() -> None:
    write("photo_decode", "rgb8x8.png", png(8, 8, 2, 8, lambda x, y, c: (x * 32, y * 32, 90)[c]))
    write("photo_decode", "rgba16_4x3.png", png(4, 3, 6, 16, lambda x, y, c: (x * 16000, y * 20000, 300, 40000)[c]))
    write("photo_decode", "gray1x20.png", png(1, 20, 0, 8, lambda x, y, c: y * 12))
    if shutil.which("cjpeg") is None:
        sys.exit("cjpeg (libjpeg-turbo) is needed for the JPEG seeds")
    base = cjpeg(ppm(16, 12), "-quality", "80")
    write("photo_decode", "baseline16x12.jpg", base)
    write("photo_decode", "progressive9x7.jpg", cjpeg(ppm(9, 7), "-progressive"))
    write("photo_decode", "gray8x8.jpg", cjpeg(ppm(8, 8), "-grayscale"))
    write("photo_decode", "rotated6.jpg", with_exif_orientation(base, 6))


def main() -> None:
    push_seeds()
    push_dictionary()
    random_seeds("replay", [64, 256, 1024, 4096])
    random_seeds("time_correction", [16, 48, 96])
    tus_seeds()
    photo_seeds()


if __name__ == "__main__":
    main()
