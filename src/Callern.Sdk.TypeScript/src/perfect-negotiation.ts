import type { NegotiationSignal } from "./signaling.js";

/**
 * The parts of `RTCPeerConnection` that perfect negotiation drives. Like the real one, an
 * implementation runs its description and candidate operations one after another, in call order.
 */
export interface NegotiatingPeer {
  readonly signalingState: RTCSignalingState;
  readonly localDescription: { readonly type: RTCSdpType; readonly sdp: string } | null;
  readonly remoteDescription: { readonly type: RTCSdpType; readonly sdp: string } | null;
  setLocalDescription(): Promise<void>;
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void>;
}

/** How a {@link PerfectNegotiation} talks to the other side and reports trouble. */
export interface PerfectNegotiationOptions {
  /**
   * The role the platform assigned: exactly one of the two participants is polite. The polite
   * side never makes the first offer of a connection; it answers the impolite side's.
   */
  polite: boolean;
  /** Sends a signal to the other participant. */
  send: (signal: NegotiationSignal) => Promise<void>;
  /** Receives failures of negotiation steps (they happen outside any caller's promise). */
  onError: (error: unknown) => void;
}

/** The ICE username fragments a session description announces (one per transport; bundled: one). */
export function iceUfrags(sdp: string): Set<string> {
  return new Set([...sdp.matchAll(/^a=ice-ufrag:(\S+)/gm)].map((m) => m[1] ?? ""));
}

/**
 * The W3C "perfect negotiation" pattern, with every step run in order on one queue: the peer's
 * signals in the order they arrived, and this side's own offers between them. Either side may
 * renegotiate at any time (screen share, ICE restart); when both offer at once, the impolite
 * side ignores the incoming offer and keeps its own, and the polite side rolls its own back
 * (implicitly, by applying the remote offer) and answers, after which its pending change
 * re-triggers `negotiationneeded`.
 *
 * Two rules keep a call's start to one SDP round without glare:
 * - nothing runs before {@link PerfectNegotiation.open}: the owner opens it once its local media
 *   is attached, so an early offer is answered with that media, not renegotiated for it;
 * - the polite side makes no offer until it has answered the first one: at start only the
 *   impolite side offers.
 *
 * Candidates that belong to an ignored offer, or to a description that is no longer the
 * current one (a peer connection the peer replaced, an earlier ICE generation), are dropped
 * before `addIceCandidate`, so they never surface as errors.
 */
export class PerfectNegotiation {
  private queue: Promise<void>;
  private openGate: () => void = () => undefined;
  private closed = false;
  private ignoreOffer = false;
  private answeredFirstOffer = false;
  private offersSent = 0;
  private candidatesDropped = 0;

  /** Wires the pattern to `peer`; the caller forwards `negotiationneeded`, candidates and signals, then calls `open()`. */
  constructor(
    private readonly peer: NegotiatingPeer,
    private readonly options: PerfectNegotiationOptions,
  ) {
    this.queue = new Promise<void>((resolve) => {
      this.openGate = resolve;
    });
  }

  /** Whether the last colliding offer was ignored (its candidates are then dropped). */
  get ignoringOffer(): boolean {
    return this.ignoreOffer;
  }

  /** How many offers this side sent. */
  get offerCount(): number {
    return this.offersSent;
  }

  /** How many received candidates were dropped as belonging to an ignored or replaced description. */
  get droppedCandidates(): number {
    return this.candidatesDropped;
  }

  /** Starts running the queued steps (signals received so far, then offers). Call once local media is attached. */
  open(): void {
    this.openGate();
  }

  /** Stops: queued and later steps do nothing (the peer connection is being closed or replaced). */
  close(): void {
    this.closed = true;
    this.openGate();
  }

  /**
   * Handles `negotiationneeded`: creates and sends an offer, in order with the signals being
   * processed. Does nothing on the polite side before it answered the first offer (the browser
   * fires `negotiationneeded` again once that leaves the connection stable, if it still is needed).
   */
  negotiate(): Promise<void> {
    return this.enqueue(async () => {
      if (this.options.polite && !this.answeredFirstOffer) return;
      // Not stable: an offer or answer is under way; the browser fires negotiationneeded again when stable.
      if (this.peer.signalingState !== "stable") return;
      // Without arguments setLocalDescription creates the offer that fits the state.
      await this.peer.setLocalDescription();
      this.offersSent += 1;
      await this.sendLocalDescription();
    });
  }

  /** Handles a local ICE candidate (`icecandidate` with a non-null candidate): trickles it to the peer. */
  async sendCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.options.send({ type: "candidate", candidate });
    } catch (error) {
      if (!this.closed) this.options.onError(error);
    }
  }

  /** Handles a signal from the peer, after the ones received before it. Never rejects: failures go to `onError`. */
  receive(signal: NegotiationSignal): Promise<void> {
    return this.enqueue(async () => {
      if (signal.type === "candidate") {
        await this.receiveCandidate(signal.candidate);
        return;
      }
      const description = signal.description;
      // Steps run one at a time, so "making an offer" is exactly "our offer is pending".
      const offerCollision = description.type === "offer" && this.peer.signalingState !== "stable";
      this.ignoreOffer = !this.options.polite && offerCollision;
      if (this.ignoreOffer) return;
      // On a collision the polite side gets here with its own offer pending: applying the remote
      // offer rolls that back first (implicit rollback).
      await this.peer.setRemoteDescription(description);
      if (description.type === "offer") {
        await this.peer.setLocalDescription();
        await this.sendLocalDescription();
        this.answeredFirstOffer = true;
      }
    });
  }

  private async receiveCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    const remote = this.peer.remoteDescription;
    // Until the next description arrives, candidates are those of the offer we ignored.
    // Without any remote description, or with another ICE username fragment, a candidate is left
    // over from a peer connection or ICE generation the peer has replaced: delivery is in order,
    // so a current candidate always follows its description.
    const stale =
      this.ignoreOffer ||
      remote === null ||
      (!!candidate.usernameFragment && !iceUfrags(remote.sdp).has(candidate.usernameFragment));
    if (stale) {
      this.candidatesDropped += 1;
      return;
    }
    await this.peer.addIceCandidate(candidate);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await step();
      } catch (error) {
        if (!this.closed) this.options.onError(error);
      }
    });
    this.queue = run;
    return run;
  }

  private async sendLocalDescription(): Promise<void> {
    const local = this.peer.localDescription;
    if (!local) return;
    await this.options.send({ type: "description", description: { type: local.type, sdp: local.sdp } });
  }
}
