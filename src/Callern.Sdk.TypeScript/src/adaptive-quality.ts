import type { CallStats } from "./stats.js";

/** When the network counts as poor or good, and how the video steps down and back up. */
export interface QualityPolicy {
  /**
   * Video bitrate caps in bits per second, highest first. Level 0 sends uncapped, level `i`
   * (1..n) caps at `videoBitrateSteps[i - 1]`, level n + 1 sends audio only.
   */
  videoBitrateSteps: readonly number[];
  /** Packet loss (0..1) at or above which a sample is poor. */
  poorPacketLoss: number;
  /** Round-trip time (ms) at or above which a sample is poor. */
  poorRttMs: number;
  /** Packet loss (0..1) at or below which a sample is good (both thresholds must hold). */
  goodPacketLoss: number;
  /** Round-trip time (ms) at or below which a sample is good. */
  goodRttMs: number;
  /** Consecutive poor samples before stepping down one level. */
  poorSamplesToStepDown: number;
  /** Consecutive good samples before stepping up one level; larger than the above, so quality does not flap. */
  goodSamplesToStepUp: number;
}

/** The defaults: 1 Mbps, 500 kbps, 250 kbps caps, then audio only. */
export const defaultQualityPolicy: QualityPolicy = Object.freeze({
  videoBitrateSteps: Object.freeze([1_000_000, 500_000, 250_000]),
  poorPacketLoss: 0.08,
  poorRttMs: 500,
  goodPacketLoss: 0.02,
  goodRttMs: 250,
  poorSamplesToStepDown: 2,
  goodSamplesToStepUp: 4,
});

/** What the video sender is allowed to send. */
export interface QualityLevel {
  /** 0 is the best; `videoBitrateSteps.length + 1` is audio only. */
  level: number;
  /** The video bitrate cap in bits per second; null when uncapped or when no video is sent. */
  maxBitrateBps: number | null;
  /** Video is switched off to keep the audio going. */
  audioOnly: boolean;
}

/** The decision state carried from one sample to the next. */
export interface QualityState {
  level: number;
  poorStreak: number;
  goodStreak: number;
}

/** The starting state: best level, no history. */
export const initialQualityState: QualityState = Object.freeze({ level: 0, poorStreak: 0, goodStreak: 0 });

/** The sender settings of `level` under `policy`. */
export function qualityLevel(level: number, policy: QualityPolicy): QualityLevel {
  const steps = policy.videoBitrateSteps;
  if (level <= 0) return { level: 0, maxBitrateBps: null, audioOnly: false };
  if (level > steps.length) return { level: steps.length + 1, maxBitrateBps: null, audioOnly: true };
  return { level, maxBitrateBps: steps[level - 1] ?? null, audioOnly: false };
}

/**
 * Classifies a sample: `poor` when loss or RTT crosses the poor threshold, `good` when both are
 * under the good thresholds, `fair` in between (which resets both streaks: neither direction
 * is warranted). The loss that counts is what the peer reports losing of our media, since that
 * is what our sender's bitrate affects; before the peer has reported, our own inbound loss
 * stands in as a hint about the shared path.
 */
export function classifySample(stats: Pick<CallStats, "rttMs" | "packetLossIn" | "packetLossOut">, policy: QualityPolicy): "poor" | "fair" | "good" {
  const loss = stats.packetLossOut ?? stats.packetLossIn;
  const rtt = stats.rttMs;
  if (loss >= policy.poorPacketLoss || (rtt !== null && rtt >= policy.poorRttMs)) return "poor";
  if (loss <= policy.goodPacketLoss && (rtt === null || rtt <= policy.goodRttMs)) return "good";
  return "fair";
}

/**
 * The next decision state after one sample: one level down after `poorSamplesToStepDown` poor
 * samples in a row, one level up after `goodSamplesToStepUp` good ones, clamped to the levels
 * the policy has. Pure, so the whole ladder is testable without a network.
 */
export function nextQualityState(
  state: QualityState,
  stats: Pick<CallStats, "rttMs" | "packetLossIn" | "packetLossOut">,
  policy: QualityPolicy,
): QualityState {
  const lowest = policy.videoBitrateSteps.length + 1;
  switch (classifySample(stats, policy)) {
    case "poor": {
      const poorStreak = state.poorStreak + 1;
      if (poorStreak >= policy.poorSamplesToStepDown && state.level < lowest) {
        return { level: state.level + 1, poorStreak: 0, goodStreak: 0 };
      }
      return { level: state.level, poorStreak, goodStreak: 0 };
    }
    case "good": {
      const goodStreak = state.goodStreak + 1;
      if (goodStreak >= policy.goodSamplesToStepUp && state.level > 0) {
        return { level: state.level - 1, poorStreak: 0, goodStreak: 0 };
      }
      return { level: state.level, poorStreak: 0, goodStreak };
    }
    case "fair":
      return { level: state.level, poorStreak: 0, goodStreak: 0 };
  }
}

/**
 * Applies `quality` to RTP sender parameters as returned by `RTCRtpSender.getParameters()`:
 * caps (or uncaps) every encoding's `maxBitrate` and switches encodings off for audio only.
 * Returns the same object, ready for `setParameters`.
 */
export function applyQualityToParameters<P extends { encodings: RTCRtpEncodingParameters[] }>(parameters: P, quality: QualityLevel): P {
  for (const encoding of parameters.encodings) {
    encoding.active = !quality.audioOnly;
    if (quality.maxBitrateBps === null) delete encoding.maxBitrate;
    else encoding.maxBitrate = quality.maxBitrateBps;
  }
  return parameters;
}
