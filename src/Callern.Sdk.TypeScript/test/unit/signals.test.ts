import { describe, expect, it } from "vitest";
import type { Signal } from "../../src/index.js";
import { decodeSignal, encodeSignal } from "../../src/realtime/call-room.js";

describe("signals on the hub", () => {
  it("travel as the platform's { type, payload } and come back as they were", () => {
    const signals: Signal[] = [
      { type: "description", description: { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" } },
      { type: "description", description: { type: "answer", sdp: "v=0" } },
      { type: "description", description: { type: "rollback" } },
      { type: "candidate", candidate: { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 } },
      { type: "receiving", usernameFragment: "a1B2" },
    ];

    const wire = signals.map(encodeSignal);

    expect(wire.map((w) => w.type)).toEqual(["offer", "answer", "rollback", "candidate", "receiving"]);
    expect(wire.map(decodeSignal)).toEqual(signals);
  });

  it("ignores kinds a CallSession does not send and payloads that are not JSON", () => {
    expect(decodeSignal({ type: "app-ping", payload: "{}" })).toBeNull();
    expect(decodeSignal({ type: "offer", payload: "v=0 not json" })).toBeNull();
    expect(decodeSignal({ type: "receiving", payload: "{}" })).toBeNull();
  });
});
