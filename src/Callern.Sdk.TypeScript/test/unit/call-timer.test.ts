import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CallTimerEvent } from "../../src/generated/api.js";
import { CallTimerCounter } from "../../src/realtime/call-timer.js";

const callId = "11111111-2222-3333-4444-555555555555";

function timer(elapsedSeconds: number, remainingSeconds: number | null, paused = false): CallTimerEvent {
  return { callId, elapsedSeconds, remainingSeconds, paused };
}

describe("CallTimerCounter", () => {
  let shown: CallTimerEvent[];
  let counter: CallTimerCounter;

  beforeEach(() => {
    vi.useFakeTimers();
    shown = [];
    counter = new CallTimerCounter((e) => shown.push(e));
  });

  afterEach(() => {
    counter.stopAll();
    vi.useRealTimers();
  });

  it("counts on every second between the platform's timers", () => {
    counter.received(timer(30, 600));
    vi.advanceTimersByTime(3000);

    expect(shown.map((e) => [e.elapsedSeconds, e.remainingSeconds])).toEqual([
      [30, 600],
      [31, 599],
      [32, 598],
      [33, 597],
    ]);
  });

  it("never shows the elapsed time going back while billing runs, and follows a top-up", () => {
    counter.received(timer(30, 600));
    vi.advanceTimersByTime(15_000); // counted to 45 s
    counter.received(timer(42, 1500)); // the platform trails by its last confirmation, and the student bought 15 minutes

    expect(shown.at(-1)).toEqual(timer(45, 1497));
  });

  it("shows a paused timer as the platform sends it and stops counting", () => {
    counter.received(timer(30, 600));
    vi.advanceTimersByTime(9000);
    counter.received(timer(33, 597, true)); // billing closed at the last confirmed moment
    vi.advanceTimersByTime(5000);

    expect(shown.at(-1)).toEqual(timer(33, 597, true));
  });

  it("stops when told (billing paused, the call ended) and at zero remaining", () => {
    counter.received(timer(0, 2));
    vi.advanceTimersByTime(5000);
    expect(shown.map((e) => e.remainingSeconds)).toEqual([2, 1, 0]);

    counter.received(timer(10, null));
    counter.stop(callId);
    vi.advanceTimersByTime(5000);
    expect(shown.at(-1)).toEqual(timer(10, null));
  });
});
