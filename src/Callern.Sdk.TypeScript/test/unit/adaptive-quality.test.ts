import { describe, expect, it } from "vitest";
import {
  applyQualityToParameters,
  classifySample,
  defaultQualityPolicy,
  initialQualityState,
  nextQualityState,
  qualityLevel,
  type QualityState,
} from "../../src/adaptive-quality.js";

const policy = defaultQualityPolicy; // caps 1 Mbps, 500 kbps, 250 kbps, then audio only
const poor = { rttMs: 120, packetLossIn: 0, packetLossOut: 0.15 };
const slow = { rttMs: 900, packetLossIn: 0, packetLossOut: 0 };
const fair = { rttMs: 300, packetLossIn: 0, packetLossOut: 0.04 };
const good = { rttMs: 40, packetLossIn: 0, packetLossOut: 0.0 };

function run(state: QualityState, samples: (typeof good)[]): QualityState {
  return samples.reduce((s, sample) => nextQualityState(s, sample, policy), state);
}

describe("adaptive quality decisions", () => {
  it("classifies loss or RTT over the poor thresholds as poor, both under the good ones as good", () => {
    expect(classifySample(poor, policy)).toBe("poor");
    expect(classifySample(slow, policy)).toBe("poor");
    expect(classifySample(fair, policy)).toBe("fair");
    expect(classifySample(good, policy)).toBe("good");
  });

  it("uses our inbound loss as a stand-in until the peer has reported on our stream", () => {
    expect(classifySample({ rttMs: 40, packetLossIn: 0.2, packetLossOut: null }, policy)).toBe("poor");
    expect(classifySample({ rttMs: 40, packetLossIn: 0.2, packetLossOut: 0 }, policy)).toBe("good");
  });

  it("steps the video down one cap per two poor samples, then to audio only, and no further", () => {
    const levels: number[] = [];
    let state = initialQualityState;
    for (let i = 0; i < 10; i++) {
      state = nextQualityState(state, poor, policy);
      levels.push(state.level);
    }

    expect(levels).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4, 4]);
    expect(qualityLevel(1, policy)).toEqual({ level: 1, maxBitrateBps: 1_000_000, audioOnly: false });
    expect(qualityLevel(3, policy)).toEqual({ level: 3, maxBitrateBps: 250_000, audioOnly: false });
    expect(qualityLevel(4, policy)).toEqual({ level: 4, maxBitrateBps: null, audioOnly: true });
  });

  it("does not step down on a single poor sample between good ones", () => {
    const state = run(initialQualityState, [poor, good, poor, good, poor]);

    expect(state.level).toBe(0);
  });

  it("a fair sample interrupts a poor streak", () => {
    expect(run(initialQualityState, [poor, fair, poor]).level).toBe(0);
  });

  it("comes back from audio only one step per four good samples, up to uncapped", () => {
    let state = run(initialQualityState, Array<typeof poor>(8).fill(poor));
    expect(qualityLevel(state.level, policy).audioOnly).toBe(true);

    const levels: number[] = [];
    for (let i = 0; i < 20; i++) {
      state = nextQualityState(state, good, policy);
      levels.push(state.level);
    }

    expect(levels.slice(0, 4)).toEqual([4, 4, 4, 3]);
    expect(levels.indexOf(0)).toBe(15);
    expect(levels.at(-1)).toBe(0);
  });

  it("sets maxBitrate on every encoding, removes it when uncapped, and switches encodings off for audio only", () => {
    const capped = applyQualityToParameters({ encodings: [{ active: true }, { active: true, maxBitrate: 2_000_000 }] }, qualityLevel(2, policy));
    expect(capped.encodings).toEqual([
      { active: true, maxBitrate: 500_000 },
      { active: true, maxBitrate: 500_000 },
    ]);

    const audioOnly = applyQualityToParameters({ encodings: [{ active: true, maxBitrate: 500_000 }] }, qualityLevel(4, policy));
    expect(audioOnly.encodings).toEqual([{ active: false }]);

    const restored = applyQualityToParameters({ encodings: [{ active: false, maxBitrate: 250_000 }] }, qualityLevel(0, policy));
    expect(restored.encodings).toEqual([{ active: true }]);
  });
});
