import type { CallStats } from "./stats.js";

/**
 * A WebRTC negotiation message for the other participant of the call: a session description
 * (offer or answer) or one trickled ICE candidate.
 */
export type Signal =
  | { type: "description"; description: RTCSessionDescriptionInit }
  | { type: "candidate"; candidate: RTCIceCandidateInit }
  /**
   * The sender's peer connection (named by its ICE username fragment) receives media: with its
   * own inbound media, the receiver then knows media flows both ways, without waiting for the
   * peer's RTCP receiver reports or the platform's `CallConnected`.
   */
  | { type: "receiving"; usernameFragment: string };

/** The signals perfect negotiation handles: descriptions and candidates. */
export type NegotiationSignal = Extract<Signal, { type: "description" | "candidate" }>;

/** Media bytes received so far, as {@link CallSession} samples them for {@link SignalingChannel.confirmMedia}. */
export interface MediaSample {
  /** Sum of `bytesReceived` over the current peer connection's `inbound-rtp` streams (audio and video). */
  inboundBytes: number;
  /** When the stats were read, in this machine's clock (milliseconds since the Unix epoch). */
  sampledAt: number;
  /** The latest connection-quality sample not yet sent: it travels with the confirmation, not as a message of its own. */
  stats?: CallStats;
}

/**
 * What the platform answered to a media confirmation: `mediaFlowing` (this confirmation counted
 * as media arriving) and `billing` (both sides confirmed: the call is metering); `skipped` when
 * the platform did not count it (sent too soon after the previous one, or too late after a
 * reconnect), which is harmless; `ended` when the call is over.
 */
export type MediaConfirmationOutcome =
  | { status: "counted"; mediaFlowing: boolean; billing: boolean }
  /** Sent without waiting for the platform's answer (the call is billing; one in every 15 s is answered). */
  | { status: "sent" }
  | { status: "skipped" }
  | { status: "ended" };

/** What the platform says about a call, as {@link SignalingChannel.onCallEvent} delivers it. */
export type CallChannelEvent =
  /** The peer reloaded or reconnected elsewhere and rejoined: its old peer connection is dead. */
  | { type: "peerRejoined" }
  /**
   * Billing paused because a side's media confirmations lapsed (`connected: false`; the call
   * ends `connection_lost` at `graceEndsAt` unless media is confirmed again), or two-way media is
   * confirmed again (`connected: true`).
   */
  | { type: "peerConnection"; connected: boolean; graceEndsAt: string | null }
  /** Both sides confirmed media for the first time. */
  | { type: "callConnected"; connectedAt: string }
  /** The call ended (`reason` is the platform's end reason, or `call_ended` when learned late). */
  | { type: "callEnded"; reason: string };

/** What a participant is sending, as shown to the other participant and to the platform. */
export interface MediaState {
  /** The microphone is sending sound (not muted). */
  microphone: boolean;
  /** The camera is sending video. */
  camera: boolean;
  /** A screen, window or tab is being shared. */
  screenShare: boolean;
  /**
   * The id of the shared screen's `MediaStreamTrack` (as it appears in the SDP), so the peer
   * knows which of its remote videos is the screen; null or absent when not sharing.
   */
  screenTrackId?: string | null;
}

/**
 * The transport a {@link CallSession} talks to the platform through. The realtime client
 * implements it over the platform's hub; tests implement it with any relay.
 *
 * Implementations must deliver signals in the order they were sent: an answer that overtakes
 * its offer, or a candidate that overtakes its description, breaks negotiation. Signals that
 * arrive before {@link SignalingChannel.onSignal} has a subscriber must be kept and handed to
 * it on subscription: a lost offer leaves both sides waiting for each other.
 */
export interface SignalingChannel {
  /** Sends `signal` to the other participant of this call (and to nobody else). */
  send(signal: Signal): Promise<void>;
  /**
   * Subscribes to signals from the other participant.
   * @returns A function that removes the subscription.
   */
  onSignal(handler: (signal: Signal) => void): () => void;
  /** Publishes this participant's media state (mirrored to the peer by the platform). */
  reportMediaState(state: MediaState): Promise<void>;
  /**
   * Confirms to the platform, for billing, how many media bytes this participant has received
   * so far on its current peer connection, with the latest stats sample. {@link CallSession} calls
   * it every 4 s by itself; the realtime client's room implements it (`ConfirmMedia`, in the
   * platform's clock). Optional:
   * a channel without a platform behind it leaves it out.
   * @returns What the platform made of it, when there is a platform to ask.
   */
  confirmMedia?(sample: MediaSample): Promise<MediaConfirmationOutcome>;
  /**
   * Subscribes to what the platform says about this call (optional: a channel without a
   * platform leaves it out): the peer rejoined with a new peer connection, media paused or came
   * back, the call is connected or ended.
   * @returns A function that removes the subscription.
   */
  onCallEvent?(handler: (event: CallChannelEvent) => void): () => void;
  /** Sends a connection-quality sample to the platform; {@link CallSession} uses it only on a channel without `confirmMedia`. */
  reportStats(stats: CallStats): Promise<void>;
  /** Asks the platform for fresh ICE servers (new TURN credentials) before an ICE restart. */
  refreshIceServers(): Promise<RTCIceServer[]>;
}
