import type { CallStats } from "./stats.js";

/**
 * A WebRTC negotiation message for the other participant of the call: a session description
 * (offer or answer) or one trickled ICE candidate.
 */
export type Signal =
  | { type: "description"; description: RTCSessionDescriptionInit }
  | { type: "candidate"; candidate: RTCIceCandidateInit };

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
  /** Tells the platform media flows; metering starts once both participants said so. */
  reportMediaConnected(): Promise<void>;
  /** Sends a connection-quality sample to the platform. */
  reportStats(stats: CallStats): Promise<void>;
  /** Asks the platform for fresh ICE servers (new TURN credentials) before an ICE restart. */
  refreshIceServers(): Promise<RTCIceServer[]>;
}
