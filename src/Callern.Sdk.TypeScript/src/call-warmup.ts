import type { CallMediaOptions } from "./call-session.js";

/** What {@link CallWarmup} opens: the same ICE servers and policy, and media, as the session will use. */
export interface CallWarmupOptions {
  /** ICE servers with a TURN credential (`GET /v1/ice-servers`); the session's own come later, with the accept. */
  iceServers: RTCIceServer[];
  /** As the session's: `relay` forces media through TURN. Default: `all`. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** What to capture, as the session's. Default: camera and microphone. */
  media?: CallMediaOptions;
}

/** What a session takes over from a warm-up: the captured media (null if capture failed) and the connection (null if made for another transport policy). */
export interface WarmedUp {
  stream: MediaStream | null;
  pc: RTCPeerConnection | null;
}

/**
 * The parts of a call that need no answer from the peer, opened while the call rings, so that
 * accepting it costs neither a camera start nor a TURN allocation: camera and microphone, and a
 * peer connection that gathers its relay candidates ahead of the first description
 * (`iceCandidatePoolSize`). The student warms up when requesting a call, the teacher when a call
 * rings; pass it to the session (`CallSessionOptions.warmup`), which takes both over. Close it if
 * the call is never accepted. Its camera stream also makes the self-view while ringing.
 *
 * ```ts
 * const warmup = new CallWarmup({ iceServers: (await api.getIceServers()).iceServers });
 * selfView.srcObject = await warmup.localStream;
 * // ...accepted:
 * const session = new CallSession({ iceServers, polite, channel, warmup });
 * ```
 */
export class CallWarmup {
  /** The camera-and-microphone stream once captured; null when the browser refused it (the session then tries again itself). */
  readonly localStream: Promise<MediaStream | null>;
  private readonly pc: RTCPeerConnection;
  private state: "warm" | "taken" | "closed" = "warm";

  constructor(options: CallWarmupOptions) {
    this.pc = new RTCPeerConnection({
      iceServers: options.iceServers,
      iceTransportPolicy: options.iceTransportPolicy ?? "all",
      iceCandidatePoolSize: 1,
    });
    this.localStream = this.capture(options.media ?? {});
  }

  /**
   * For the session: the media and the connection, once (null when closed or already taken). A
   * connection made for another transport policy than the session's is closed, not handed over.
   */
  async take(iceTransportPolicy: RTCIceTransportPolicy): Promise<WarmedUp | null> {
    const stream = await this.localStream;
    if (this.state !== "warm") return null;
    this.state = "taken";
    if (this.pc.getConfiguration().iceTransportPolicy === iceTransportPolicy) return { stream, pc: this.pc };
    this.pc.close();
    return { stream, pc: null };
  }

  /** Stops the media and closes the connection, unless a session took them over. */
  close(): void {
    if (this.state !== "warm") return;
    this.state = "closed";
    this.pc.close();
    void this.localStream.then((stream) => stream?.getTracks().forEach((track) => track.stop()));
  }

  private async capture(media: CallMediaOptions): Promise<MediaStream | null> {
    const audio = media.audio ?? true;
    const video = media.video ?? true;
    if (audio === false && video === false) return null;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio, video });
      if (this.state === "closed") {
        for (const track of stream.getTracks()) track.stop();
        return null;
      }
      return stream;
    } catch {
      return null; // The session asks again, with its fallback to the microphone alone, and reports why.
    }
  }
}
