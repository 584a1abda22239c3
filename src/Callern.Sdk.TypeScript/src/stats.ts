/** The kind of ICE candidate at one end of the selected candidate pair. */
export type CandidateType = "host" | "srflx" | "prflx" | "relay";

/** One connection-quality sample, computed from two consecutive `getStats()` reports. */
export interface CallStats {
  /** When the sample was taken, in milliseconds since the Unix epoch. */
  timestamp: number;
  /** Round-trip time of the selected candidate pair, in milliseconds; null until measured. */
  rttMs: number | null;
  /** Fraction (0..1) of the peer's packets lost on their way to us since the previous sample. */
  packetLossIn: number;
  /** Fraction (0..1) of our packets the peer reports lost; null until the peer reported. */
  packetLossOut: number | null;
  /** Largest inbound interarrival jitter, in milliseconds; null before any packet arrived. */
  jitterMs: number | null;
  /** Received media bitrate since the previous sample, in bits per second. */
  bitrateInBps: number;
  /** Sent media bitrate since the previous sample, in bits per second. */
  bitrateOutBps: number;
  /** RTP payload bytes received since the call started. */
  bytesReceived: number;
  /** RTP payload bytes sent since the call started. */
  bytesSent: number;
  /** Our end of the selected candidate pair (`relay` when media goes through TURN). */
  localCandidateType: CandidateType | null;
  /** The peer's end of the selected candidate pair. */
  remoteCandidateType: CandidateType | null;
}

/** The cumulative counters of one `getStats()` report that a {@link CallStats} is derived from. */
export interface StatsSnapshot {
  timestamp: number;
  bytesReceived: number;
  bytesSent: number;
  packetsReceived: number;
  packetsLost: number;
  rttMs: number | null;
  /** Worst `fractionLost` the peer reported in its receiver reports about our streams. */
  remoteFractionLost: number | null;
  /**
   * The peer reports receiving our media: a `remote-inbound-rtp` exists (browsers create one
   * from an RTCP receiver report block about a stream we send) and, where the browser counts
   * them, with packets received.
   */
  peerReceiving: boolean;
  jitterMs: number | null;
  localCandidateType: CandidateType | null;
  remoteCandidateType: CandidateType | null;
}

/** A stats object as the browser hands it over: an id, a type and loosely typed fields. */
export type RawStats = { readonly id: string; readonly type: string; readonly [field: string]: unknown };

function num(stats: RawStats | undefined, field: string): number | null {
  const value = stats?.[field];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function str(stats: RawStats | undefined, field: string): string | null {
  const value = stats?.[field];
  return typeof value === "string" ? value : null;
}

function candidateType(stats: RawStats | undefined): CandidateType | null {
  const type = str(stats, "candidateType");
  return type === "host" || type === "srflx" || type === "prflx" || type === "relay" ? type : null;
}

/**
 * Reduces a `getStats()` report to the counters a sample needs. Only RTP streams carrying media
 * count (not RTX/FEC), and the selected pair is the transport's, falling back to the nominated
 * succeeded pair where a browser does not expose `selectedCandidatePairId`.
 */
export function readStatsSnapshot(report: Iterable<RawStats>, timestamp: number): StatsSnapshot {
  const byId = new Map<string, RawStats>();
  for (const stats of report) byId.set(stats.id, stats);

  const snapshot: StatsSnapshot = {
    timestamp,
    bytesReceived: 0,
    bytesSent: 0,
    packetsReceived: 0,
    packetsLost: 0,
    rttMs: null,
    remoteFractionLost: null,
    peerReceiving: false,
    jitterMs: null,
    localCandidateType: null,
    remoteCandidateType: null,
  };
  let pair: RawStats | undefined;
  for (const stats of byId.values()) {
    switch (stats.type) {
      case "inbound-rtp": {
        snapshot.bytesReceived += num(stats, "bytesReceived") ?? 0;
        snapshot.packetsReceived += num(stats, "packetsReceived") ?? 0;
        // packetsLost may go negative with duplicates (RFC 3550); clamp so loss never "heals".
        snapshot.packetsLost += Math.max(0, num(stats, "packetsLost") ?? 0);
        const jitter = num(stats, "jitter");
        if (jitter !== null) snapshot.jitterMs = Math.max(snapshot.jitterMs ?? 0, jitter * 1000);
        break;
      }
      case "outbound-rtp":
        snapshot.bytesSent += num(stats, "bytesSent") ?? 0;
        break;
      case "remote-inbound-rtp": {
        const fraction = num(stats, "fractionLost");
        if (fraction !== null) snapshot.remoteFractionLost = Math.max(snapshot.remoteFractionLost ?? 0, fraction);
        const received = num(stats, "packetsReceived");
        if (received === null || received > 0) snapshot.peerReceiving = true;
        break;
      }
      case "transport": {
        const id = str(stats, "selectedCandidatePairId");
        if (id !== null) pair = byId.get(id) ?? pair;
        break;
      }
    }
  }
  pair ??= [...byId.values()].find(
    (s) => s.type === "candidate-pair" && s["nominated"] === true && s["state"] === "succeeded",
  );
  if (pair) {
    const rtt = num(pair, "currentRoundTripTime");
    snapshot.rttMs = rtt === null ? null : rtt * 1000;
    snapshot.localCandidateType = candidateType(byId.get(str(pair, "localCandidateId") ?? ""));
    snapshot.remoteCandidateType = candidateType(byId.get(str(pair, "remoteCandidateId") ?? ""));
  }
  return snapshot;
}

/**
 * Turns two snapshots into a sample: rates and loss over the interval between them. Without a
 * previous snapshot (the first sample) the rates are zero. Counters that went backwards (an RTP
 * stream was replaced, e.g. after renegotiation) count as restarting from zero.
 */
export function computeCallStats(previous: StatsSnapshot | null, current: StatsSnapshot): CallStats {
  const seconds = previous ? (current.timestamp - previous.timestamp) / 1000 : 0;
  const delta = (now: number, before: number | undefined): number =>
    before === undefined ? 0 : now >= before ? now - before : now;
  const bytesIn = delta(current.bytesReceived, previous?.bytesReceived);
  const bytesOut = delta(current.bytesSent, previous?.bytesSent);
  const received = delta(current.packetsReceived, previous?.packetsReceived);
  const lost = delta(current.packetsLost, previous?.packetsLost);
  return {
    timestamp: current.timestamp,
    rttMs: current.rttMs,
    packetLossIn: received + lost > 0 ? lost / (received + lost) : 0,
    packetLossOut: current.remoteFractionLost,
    jitterMs: current.jitterMs,
    bitrateInBps: seconds > 0 ? Math.round((bytesIn * 8) / seconds) : 0,
    bitrateOutBps: seconds > 0 ? Math.round((bytesOut * 8) / seconds) : 0,
    bytesReceived: current.bytesReceived,
    bytesSent: current.bytesSent,
    localCandidateType: current.localCandidateType,
    remoteCandidateType: current.remoteCandidateType,
  };
}
