import { describe, expect, it } from "vitest";
import { computeCallStats, readStatsSnapshot, type RawStats } from "../../src/stats.js";

/** A getStats() report shaped like Chromium's for a call through TURN, with counters to vary. */
function report(counters: { audioIn: number; videoIn: number; out: number; received: number; lost: number }): RawStats[] {
  return [
    { id: "T01", type: "transport", selectedCandidatePairId: "CP1" },
    { id: "CP0", type: "candidate-pair", state: "failed", nominated: false, localCandidateId: "L0", remoteCandidateId: "R0", currentRoundTripTime: 9 },
    { id: "CP1", type: "candidate-pair", state: "succeeded", nominated: true, localCandidateId: "L1", remoteCandidateId: "R1", currentRoundTripTime: 0.042 },
    { id: "L0", type: "local-candidate", candidateType: "host" },
    { id: "L1", type: "local-candidate", candidateType: "relay" },
    { id: "R0", type: "remote-candidate", candidateType: "host" },
    { id: "R1", type: "remote-candidate", candidateType: "relay" },
    { id: "IA", type: "inbound-rtp", kind: "audio", bytesReceived: counters.audioIn, packetsReceived: counters.received, packetsLost: counters.lost, jitter: 0.004 },
    { id: "IV", type: "inbound-rtp", kind: "video", bytesReceived: counters.videoIn, packetsReceived: 0, packetsLost: -2, jitter: 0.011 },
    { id: "OA", type: "outbound-rtp", kind: "audio", bytesSent: counters.out },
    { id: "OV", type: "outbound-rtp", kind: "video", bytesSent: counters.out * 3 },
    { id: "RIA", type: "remote-inbound-rtp", kind: "audio", fractionLost: 0.01 },
    { id: "RIV", type: "remote-inbound-rtp", kind: "video", fractionLost: 0.05 },
    { id: "CO", type: "codec", mimeType: "video/VP8" },
  ];
}

describe("stats snapshot", () => {
  it("tells whether the peer reports receiving our media (remote-inbound-rtp)", () => {
    const before = report({ audioIn: 0, videoIn: 0, out: 500, received: 0, lost: 0 }).filter((s) => s.type !== "remote-inbound-rtp");
    const firefoxNothingYet = [...before, { id: "RIA", type: "remote-inbound-rtp", kind: "audio", packetsReceived: 0 }];
    const firefoxReceiving = [...before, { id: "RIA", type: "remote-inbound-rtp", kind: "audio", packetsReceived: 12 }];

    expect(readStatsSnapshot(before, 0).peerReceiving).toBe(false);
    expect(readStatsSnapshot(firefoxNothingYet, 0).peerReceiving).toBe(false);
    expect(readStatsSnapshot(firefoxReceiving, 0).peerReceiving).toBe(true);
  });

  it("sums RTP counters, takes the selected pair's RTT and candidate types, and the worst jitter and remote loss", () => {
    const snapshot = readStatsSnapshot(report({ audioIn: 1000, videoIn: 9000, out: 500, received: 90, lost: 10 }), 1_000);

    expect(snapshot).toEqual({
      timestamp: 1_000,
      bytesReceived: 10_000,
      bytesSent: 2_000,
      packetsReceived: 90,
      packetsLost: 10, // the video stream's negative count (duplicates) does not offset real loss
      rttMs: 42,
      remoteFractionLost: 0.05,
      peerReceiving: true, // the peer sent receiver reports about our streams
      jitterMs: 11,
      localCandidateType: "relay",
      remoteCandidateType: "relay",
    });
  });

  it("falls back to the nominated succeeded pair when the transport names none", () => {
    const withoutTransport = report({ audioIn: 0, videoIn: 0, out: 0, received: 0, lost: 0 }).filter((s) => s.type !== "transport");

    const snapshot = readStatsSnapshot(withoutTransport, 0);

    expect(snapshot.rttMs).toBe(42);
    expect(snapshot.localCandidateType).toBe("relay");
  });

  it("reports nulls before anything is connected or received", () => {
    const snapshot = readStatsSnapshot([{ id: "T01", type: "transport" }], 0);

    expect(snapshot).toMatchObject({ rttMs: null, jitterMs: null, remoteFractionLost: null, localCandidateType: null, bytesReceived: 0 });
  });
});

describe("stats sample from two snapshots", () => {
  const first = readStatsSnapshot(report({ audioIn: 1_000, videoIn: 9_000, out: 500, received: 100, lost: 0 }), 10_000);

  it("has zero rates on the first sample, but the cumulative byte counts", () => {
    const stats = computeCallStats(null, first);

    expect(stats).toMatchObject({ bitrateInBps: 0, bitrateOutBps: 0, packetLossIn: 0, bytesReceived: 10_000, bytesSent: 2_000 });
  });

  it("computes bitrates and inbound loss over the interval", () => {
    // 2 s later: 50,000 more bytes in, 12,000 more out, 90 packets received and 10 lost.
    const second = readStatsSnapshot(report({ audioIn: 11_000, videoIn: 49_000, out: 3_500, received: 190, lost: 10 }), 12_000);

    const stats = computeCallStats(first, second);

    expect(stats).toEqual({
      timestamp: 12_000,
      rttMs: 42,
      packetLossIn: 0.1,
      packetLossOut: 0.05,
      jitterMs: 11,
      bitrateInBps: 200_000,
      bitrateOutBps: 48_000,
      bytesReceived: 60_000,
      bytesSent: 14_000,
      localCandidateType: "relay",
      remoteCandidateType: "relay",
    });
  });

  it("treats counters that went backwards (a replaced RTP stream) as restarting from zero", () => {
    const after = readStatsSnapshot(report({ audioIn: 100, videoIn: 900, out: 50, received: 10, lost: 0 }), 11_000);

    const stats = computeCallStats(first, after);

    expect(stats.bitrateInBps).toBe(8_000);
    expect(stats.bitrateOutBps).toBe(1_600);
    expect(stats.packetLossIn).toBe(0);
  });
});
