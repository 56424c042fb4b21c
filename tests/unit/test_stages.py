"""The sensor's processor time per pipeline stage comes from sampling the innermost frame of
Fathom's code: a worker busy decoding shows decode time, one busy in its own loop shows the sensor."""

from __future__ import annotations

import sys
import time

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from fathom.decode.decoder import Decoder
from fathom.decode.defrag import Defragmenter
from fathom.decode.packet import Packet
from fathom.sensor.stages import STAGES, StageSampler, stage_of


def test_a_frame_belongs_to_the_innermost_stage_of_fathoms_code() -> None:
    frame = sys._getframe()
    assert stage_of(frame) == "other"  # the tests are not Fathom's code
    assert stage_of(None) == "other"
    assert set(STAGES) == {
        "capture",
        "decode",
        "stream",
        "flow",
        "app",
        "detect",
        "output",
        "sensor",
        "other",
    }


def test_a_busy_decoder_is_sampled_as_decode_time() -> None:
    raw = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2) / b"x")
    decoder = Decoder(Defragmenter())
    pkt = Packet()
    sampler = StageSampler(hz=500)
    sampler.start()
    try:
        deadline = time.process_time() + 0.5
        while time.process_time() < deadline:
            for _ in range(1000):
                decoder.decode(raw, 0, len(raw), 1, pkt)
    finally:
        sampler.stop()
    total = sum(sampler.seconds.values())
    assert total > 0.2
    assert sampler.seconds["decode"] > 0.6 * total
