import type { Signal } from "./signaling.js";

/**
 * The parts of `RTCPeerConnection` that perfect negotiation drives. Like the real one, an
 * implementation runs its description and candidate operations one after another, in call order.
 */
export interface NegotiatingPeer {
  readonly signalingState: RTCSignalingState;
  readonly localDescription: { readonly type: RTCSdpType; readonly sdp: string } | null;
  setLocalDescription(): Promise<void>;
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void>;
}

/** How a {@link PerfectNegotiation} talks to the other side and reports trouble. */
export interface PerfectNegotiationOptions {
  /** The role the platform assigned: exactly one of the two participants is polite. */
  polite: boolean;
  /** Sends a signal to the other participant. */
  send: (signal: Signal) => Promise<void>;
  /** Receives failures of negotiation steps (they happen outside any caller's promise). */
  onError: (error: unknown) => void;
}

/**
 * The W3C "perfect negotiation" pattern: either side may start a negotiation at any time
 * (adding a track, restarting ICE) without coordinating first. When both offer at once, the
 * impolite side ignores the incoming offer and keeps its own; the polite side rolls its own
 * back (implicitly, by applying the remote offer) and answers, after which its pending change
 * re-triggers `negotiationneeded`.
 */
export class PerfectNegotiation {
  private makingOffer = false;
  private ignoreOffer = false;
  private isSettingRemoteAnswerPending = false;

  /** Wires the pattern to `peer`; the caller forwards `negotiationneeded`, candidates and signals. */
  constructor(
    private readonly peer: NegotiatingPeer,
    private readonly options: PerfectNegotiationOptions,
  ) {}

  /** Whether the last colliding offer was ignored (candidates for it may then fail harmlessly). */
  get ignoringOffer(): boolean {
    return this.ignoreOffer;
  }

  /** Handles `negotiationneeded`: creates and sends an offer. */
  async negotiate(): Promise<void> {
    try {
      this.makingOffer = true;
      // Without arguments setLocalDescription creates the offer (or answer) that fits the state.
      await this.peer.setLocalDescription();
      await this.sendLocalDescription();
    } catch (error) {
      this.options.onError(error);
    } finally {
      this.makingOffer = false;
    }
  }

  /** Handles a local ICE candidate (`icecandidate` with a non-null candidate): trickles it to the peer. */
  async sendCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.options.send({ type: "candidate", candidate });
    } catch (error) {
      this.options.onError(error);
    }
  }

  /** Handles a signal from the peer. Never rejects: failures go to `onError`. */
  async receive(signal: Signal): Promise<void> {
    try {
      if (signal.type === "candidate") {
        await this.receiveCandidate(signal.candidate);
        return;
      }
      const description = signal.description;
      // An answer we are applying right now will leave us stable, so an offer behind it is fine.
      const readyForOffer =
        !this.makingOffer && (this.peer.signalingState === "stable" || this.isSettingRemoteAnswerPending);
      const offerCollision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.options.polite && offerCollision;
      if (this.ignoreOffer) return;

      this.isSettingRemoteAnswerPending = description.type === "answer";
      try {
        // On a collision the polite side gets here with its own offer pending: applying the
        // remote offer rolls that back first (implicit rollback).
        await this.peer.setRemoteDescription(description);
      } finally {
        this.isSettingRemoteAnswerPending = false;
      }
      if (description.type === "offer") {
        await this.peer.setLocalDescription();
        await this.sendLocalDescription();
      }
    } catch (error) {
      this.options.onError(error);
    }
  }

  private async receiveCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.peer.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer we ignored cannot be applied; that is expected, not a failure.
      if (!this.ignoreOffer) throw error;
    }
  }

  private async sendLocalDescription(): Promise<void> {
    const local = this.peer.localDescription;
    if (!local) return;
    await this.options.send({ type: "description", description: { type: local.type, sdp: local.sdp } });
  }
}
