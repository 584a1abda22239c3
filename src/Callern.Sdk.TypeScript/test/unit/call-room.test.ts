import { describe, expect, it, vi } from "vitest";
import { CallRoom, type RoomHost, type RoomSink } from "../../src/realtime/call-room.js";
import { RealtimeError } from "../../src/realtime/types.js";
import type { CallChannelEvent } from "../../src/signaling.js";

/** A hub that answers ConfirmMedia as the platform would, with a clock 90 s ahead of this machine's. */
function host(answer: (method: string, args: unknown[]) => unknown) {
  const invoked: { method: string; args: unknown[] }[] = [];
  const sent: { method: string; args: unknown[] }[] = [];
  const observed: string[] = [];
  let sink: RoomSink | null = null;
  const fake: RoomHost = {
    invoke: async <T>(method: string, ...args: unknown[]) => {
      invoked.push({ method, args });
      return answer(method, args) as T;
    },
    send: async (method: string, ...args: unknown[]) => {
      sent.push({ method, args });
    },
    serverTime: (localMs) => new Date(localMs + 90_000),
    observeServerTime: (serverTime) => observed.push(serverTime),
    rest: async <T>() => undefined as T,
    attach: (_callId, s) => {
      sink = s;
    },
    detach: () => {
      sink = null;
    },
  };
  return { fake, invoked, sent, observed, sink: () => sink };
}

describe("a call's room", () => {
  it("while the call bills, waits for an answer to one confirmation every 15 s and sends the others without one", async () => {
    vi.useFakeTimers();
    try {
      const hub = host(() => ({ serverTime: "2026-12-03T08:00:00.000Z", mediaFlowing: true, billing: true }));
      const room = new CallRoom(hub.fake, "call-1");
      const outcomes = [];
      for (let i = 0; i < 5; i++) {
        outcomes.push((await room.confirmMedia({ inboundBytes: 1000 * (i + 1), sampledAt: Date.now() })).status);
        vi.advanceTimersByTime(4000);
      }
      hub.sink()?.callEvent({ type: "peerConnection", connected: false, graceEndsAt: null });
      outcomes.push((await room.confirmMedia({ inboundBytes: 6000, sampledAt: Date.now() })).status);

      // Answered at 0 s, sent at 4, 8 and 12 s, answered at 16 s; answered at once after billing paused.
      expect(outcomes).toEqual(["counted", "sent", "sent", "sent", "counted", "counted"]);
      expect(hub.sent.map((m) => m.method)).toEqual(["ConfirmMedia", "ConfirmMedia", "ConfirmMedia"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("confirms media in the platform's clock and passes on what the platform counted", async () => {
    const hub = host(() => ({ serverTime: "2026-12-03T08:00:00.000Z", mediaFlowing: true, billing: true }));
    const room = new CallRoom(hub.fake, "call-1");

    const outcome = await room.confirmMedia({ inboundBytes: 12_345.6, sampledAt: Date.parse("2026-12-03T07:58:30.000Z") });

    expect(outcome).toEqual({ status: "counted", mediaFlowing: true, billing: true });
    expect(hub.invoked).toEqual([{ method: "ConfirmMedia", args: ["call-1", { sampledAt: "2026-12-03T08:00:00.000Z", inboundBytes: 12_346 }] }]);
    expect(hub.observed).toEqual(["2026-12-03T08:00:00.000Z"]);
  });

  it("drops confirmations the platform skipped (too fast, stale after a reconnect) without an error, and says when the call ended", async () => {
    const codes = ["confirmation_too_fast", "confirmation_stale", "call_ended"];
    const hub = host(() => {
      throw new RealtimeError(codes.shift() ?? "unknown", "refused");
    });
    const room = new CallRoom(hub.fake, "call-1");
    const sample = { inboundBytes: 1, sampledAt: Date.now() };

    expect(await room.confirmMedia(sample)).toEqual({ status: "skipped" });
    expect(await room.confirmMedia(sample)).toEqual({ status: "skipped" });
    expect(await room.confirmMedia(sample)).toEqual({ status: "ended" });
  });

  it("rejects any other refusal with the platform's code", async () => {
    const hub = host(() => {
      throw new RealtimeError("confirmation_in_future", "sampledAt is ahead of the platform's clock");
    });
    const room = new CallRoom(hub.fake, "call-1");

    await expect(room.confirmMedia({ inboundBytes: 1, sampledAt: Date.now() })).rejects.toMatchObject({ code: "confirmation_in_future" });
  });

  it("hands the platform's word about the call (peer rejoined, media paused and back, ended) to its subscribers", () => {
    const hub = host(() => undefined);
    const room = new CallRoom(hub.fake, "call-1");
    const seen: CallChannelEvent[] = [];
    room.onCallEvent((event) => seen.push(event));

    const events: CallChannelEvent[] = [
      { type: "peerRejoined" },
      { type: "peerConnection", connected: false, graceEndsAt: "2026-12-03T08:00:30.000Z" },
      { type: "peerConnection", connected: true, graceEndsAt: null },
      { type: "callEnded", reason: "completed" },
    ];
    for (const event of events) hub.sink()?.callEvent(event);

    expect(seen).toEqual(events);
  });
});
