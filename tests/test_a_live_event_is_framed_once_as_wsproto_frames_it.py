"""A live event goes to every viewer as the same bytes, framed once per process (bus.LiveEvent.wire):
they must be the frame wsproto, which frames everything else on the socket, would have written."""

from __future__ import annotations

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from app.live.bus import LiveEvent, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_a_text_frame_is_the_one_wsproto_writes_whatever_its_length(size: int) -> None:
    text = "é" * (size // 2) + "a" * (size % 2)  # two bytes a character: lengths around the limits
    server = FrameProtocol(client=False, extensions=[])
    assert text_frame(text) == bytes(server._serialize_frame(Opcode.TEXT, text.encode()))


def test_a_live_event_is_framed_once_and_reads_back_as_its_json() -> None:
    ev = LiveEvent({"id": 7, "kind": "incident.triggered", "client_id": 1, "data": {"summary": "Disque plein ✓"}})
    wire = ev.wire()
    assert ev.wire() is wire  # once per process, whatever the number of viewers
    reader = FrameProtocol(client=True, extensions=[])
    reader.receive_bytes(wire)
    [frame] = list(reader.received_frames())
    assert frame.opcode is Opcode.TEXT and frame.message_finished and frame.payload == ev.frame()
