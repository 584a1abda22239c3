import type { CallWarmup } from "./call-warmup.js";
import {
  applyQualityToParameters,
  defaultQualityPolicy,
  initialQualityState,
  nextQualityState,
  qualityLevel,
  type QualityLevel,
  type QualityPolicy,
  type QualityState,
} from "./adaptive-quality.js";
import { CallError, type CallErrorCode } from "./errors.js";
import { TypedEmitter } from "./events.js";
import { iceUfrags, PerfectNegotiation } from "./perfect-negotiation.js";
import type { CallChannelEvent, MediaState, SignalingChannel } from "./signaling.js";
import { computeCallStats, readStatsSnapshot, type CallStats, type RawStats, type StatsSnapshot } from "./stats.js";

/** Where a stream comes from: the participant's camera and microphone, or a shared screen. */
export type StreamSource = "camera" | "screen";

/** Why an ICE restart was started. */
export type IceRestartReason = "failed" | "disconnected" | "manual";

/** The events of a {@link CallSession}; subscribe with {@link CallSession.on}. */
export interface CallSessionEvents {
  /**
   * Local media to preview: the camera stream (also fired again when its tracks change: camera
   * switched, turned back on) or a screen being shared.
   */
  localStream: (stream: MediaStream, source: StreamSource) => void;
  /**
   * A new stream from the peer. The peer's first stream is its camera and microphone; a
   * stream arriving while that one exists is a screen share.
   */
  remoteStream: (stream: MediaStream, source: StreamSource) => void;
  /** A peer stream lost its last track (the peer stopped sharing its screen). */
  remoteStreamRemoved: (stream: MediaStream, source: StreamSource) => void;
  /** This participant's media state changed (mute, camera, screen share). */
  mediaState: (state: MediaState) => void;
  /** The peer's media state, as passed to {@link CallSession.setRemoteMediaState}. */
  remoteMediaState: (state: MediaState) => void;
  /** The peer connection's state changed. */
  connectionState: (state: RTCPeerConnectionState) => void;
  /**
   * Media flows both ways for the first time: this side receives media (its inbound bytes
   * grow) and the peer does too (the platform says both sides confirmed media, or the peer's
   * receiver reports about our streams arrived). Fired once per session. Not ICE "connected":
   * that comes earlier, before any media.
   */
  mediaConnected: () => void;
  /**
   * The platform paused billing because media stopped being confirmed on one side (a peer
   * reloading, a network drop): show "reconnecting…". The call ends `connection_lost` at
   * `graceEndsAt` unless media flows again, which `back` announces.
   */
  reconnecting: (info: { graceEndsAt: string | null }) => void;
  /** Two-way media is confirmed again after `reconnecting`. */
  back: () => void;
  /**
   * The peer rejoined the call (after a reload) with a new peer connection; this session
   * replaced its own and negotiates again by itself. Remote streams are announced anew.
   */
  peerRejoined: () => void;
  /** An ICE restart with fresh ICE servers was started. */
  iceRestart: (reason: IceRestartReason) => void;
  /** A connection-quality sample (also sent to the platform). */
  stats: (stats: CallStats) => void;
  /** Adaptive quality changed what the camera sends. */
  quality: (quality: QualityLevel) => void;
  /** The session ended; every track is stopped and the connection closed. Last event. */
  ended: (reason: string) => void;
  /** Something failed that the session could not handle silently; the call may go on. */
  error: (error: CallError) => void;
}

/** Which media to capture when the session starts. */
export interface CallMediaOptions {
  /** Microphone constraints, or false to join without one. Default: true. */
  audio?: boolean | MediaTrackConstraints;
  /** Camera constraints, or false to join without one. Default: true. */
  video?: boolean | MediaTrackConstraints;
}

/** Everything a {@link CallSession} needs; most of it comes from the platform when a call is accepted. */
export interface CallSessionOptions {
  /** ICE servers (STUN/TURN with credentials) from the platform. */
  iceServers: RTCIceServer[];
  /** The negotiation role from the platform: exactly one participant of a call is polite. */
  polite: boolean;
  /** The transport to the other participant and the platform. */
  channel: SignalingChannel;
  /** `relay` forces media through TURN (e.g. to hide IP addresses). Default: `all`. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** What to capture. Default: camera and microphone. */
  media?: CallMediaOptions;
  /**
   * Camera, microphone and a peer connection opened while the call rang ({@link CallWarmup}):
   * the session takes them over instead of opening its own, so media flows sooner after the accept.
   */
  warmup?: CallWarmup;
  /** Interval between stats samples, in ms. Default: 2000. Media confirmations go every 4 s whatever it is. */
  statsIntervalMs?: number;
  /** How long the connection may stay `disconnected` before an ICE restart, in ms. Default: 3000. */
  disconnectedTimeoutMs?: number;
  /** How long an ICE restart may take before another one is tried, in ms. Default: 10000. */
  iceRestartTimeoutMs?: number;
  /** ICE restarts in a row without reaching `connected` before the session ends. Default: 5. */
  maxIceRestarts?: number;
  /** Adaptive quality thresholds and steps, or false to leave the sender alone. Default: {@link defaultQualityPolicy}. */
  quality?: Partial<QualityPolicy> | false;
}

/** Cameras and microphones the browser offers (labels are empty until permission is granted). */
export interface MediaDeviceList {
  /** Video inputs. */
  cameras: MediaDeviceInfo[];
  /** Audio inputs. */
  microphones: MediaDeviceInfo[];
}

type SessionPhase = "idle" | "starting" | "active" | "ended";

/** How often media is confirmed to the platform for billing (the platform's MediaConfirmationRules.Interval). */
const confirmationIntervalMs = 4000;
/** A confirmation is due this much before the interval is up, so stats timer jitter never skips one. */
const confirmationSlackMs = 250;
/** Until media flows both ways, stats are read this often, so the first confirmation and `mediaConnected` are prompt. */
const probeIntervalMs = 25;
/** Fast probing stops after this long without two-way media; the regular samples keep checking. */
const probeForMs = 15_000;

/** One RTCPeerConnection with its negotiation and listeners; replaced whole when the peer rejoins. */
interface Link {
  pc: RTCPeerConnection;
  negotiation: PerfectNegotiation;
  /** Removes this connection's listeners. */
  listeners: AbortController;
  /** Inbound bytes at the previous sample of this connection. */
  inboundBytes: number;
  /** This side has received media on this connection. */
  receiving: boolean;
  /** The peer said (its `receiving` signal, its RTCP receiver reports) that it receives our media on this connection, or the platform confirmed both sides. */
  peerReceiving: boolean;
  /** When this connection's first media confirmation may go (0: as soon as media arrives). */
  nextConfirmationAt: number;
  /** Local media is attached and negotiation runs. */
  connected: boolean;
}

function mediaDevices(): MediaDevices {
  if (typeof navigator === "undefined" || !navigator.mediaDevices) {
    // Browsers hide mediaDevices outside secure contexts (https, localhost, 127.0.0.1).
    throw new CallError("media", "navigator.mediaDevices is unavailable: the page must be served over https or from localhost");
  }
  return navigator.mediaDevices;
}

function withDevice(constraints: boolean | MediaTrackConstraints, deviceId: string | undefined): MediaTrackConstraints | boolean {
  if (deviceId === undefined) return constraints;
  return { ...(typeof constraints === "object" ? constraints : {}), deviceId: { exact: deviceId } };
}

/**
 * One participant's side of a 1:1 call: captures camera and microphone, connects to the peer
 * with perfect negotiation over a {@link SignalingChannel}, and keeps the call healthy (ICE
 * restart with fresh TURN credentials, stats, adaptive video quality).
 *
 * Negotiation takes one SDP round: only the impolite side makes the first offer, once its
 * camera and microphone are attached; the polite side answers with its own media attached.
 * Every 4 s the session confirms to the platform the media bytes it received (billing follows
 * confirmed two-way media), with no help from the app. When the peer rejoins after a reload,
 * the session replaces its peer connection and negotiates again.
 *
 * ```ts
 * const session = new CallSession({ iceServers, polite, channel });
 * session.on("remoteStream", (stream) => { remoteVideo.srcObject = stream; });
 * await session.start();
 * await session.setMicrophoneEnabled(false);
 * session.end();
 * ```
 */
export class CallSession extends TypedEmitter<CallSessionEvents> {
  private readonly options: CallSessionOptions;
  private readonly qualityPolicy: QualityPolicy | null;
  /** Every DOM listener the session adds is bound to this signal, so teardown removes them all at once. */
  private readonly listeners = new AbortController();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private phase: SessionPhase = "idle";
  private link: Link | null = null;
  private iceServers: RTCIceServer[];
  private unsubscribeSignals: (() => void) | null = null;
  private unsubscribeCallEvents: (() => void) | null = null;

  private readonly camera = new MediaStream();
  private audioSender: RTCRtpSender | null = null;
  private videoSender: RTCRtpSender | null = null;
  private microphoneDeviceId: string | undefined;
  private cameraDeviceId: string | undefined;
  private microphoneOn = true;
  private cameraOn = true;
  private screen: { stream: MediaStream; sender: RTCRtpSender } | null = null;
  private readonly remote = new Map<string, { stream: MediaStream; source: StreamSource }>();

  private mediaConnectedReported = false;
  private showingReconnecting = false;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private confirmationTimer: ReturnType<typeof setTimeout> | null = null;
  private probeUntil = 0;
  private confirming = false;
  private confirmationsStopped = false;
  private confirmationFailed = false;
  private disconnectedTimer: ReturnType<typeof setTimeout> | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private restartsWithoutSuccess = 0;
  private restarting = false;

  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private sampling = false;
  private lastSnapshot: StatsSnapshot | null = null;
  /** The latest stats sample, until a media confirmation takes it to the platform. */
  private unsentStats: CallStats | null = null;
  private qualityState: QualityState = initialQualityState;
  /** What the camera sender was last set to (level 0 with no sender: the browser's defaults). */
  private qualityApplied: { sender: RTCRtpSender | null; level: number } = { sender: null, level: 0 };

  /** Creates an idle session; subscribe to events, then call {@link CallSession.start}. */
  constructor(options: CallSessionOptions) {
    super();
    this.options = options;
    this.iceServers = options.iceServers;
    this.qualityPolicy = options.quality === false ? null : { ...defaultQualityPolicy, ...options.quality };
  }

  /** The camera-and-microphone stream (empty until {@link CallSession.start} acquired media). */
  get localStream(): MediaStream {
    return this.camera;
  }

  /** The screen being shared, or null. */
  get screenStream(): MediaStream | null {
    return this.screen?.stream ?? null;
  }

  /** The peer's streams received so far, with their source. */
  get remoteStreams(): { stream: MediaStream; source: StreamSource }[] {
    return [...this.remote.values()];
  }

  private get pc(): RTCPeerConnection | null {
    return this.link?.pc ?? null;
  }

  /** The peer connection's state (`new` before start, `closed` after end). */
  get connectionState(): RTCPeerConnectionState {
    return this.pc?.connectionState ?? (this.phase === "ended" ? "closed" : "new");
  }

  /** What this participant currently sends. */
  get mediaState(): MediaState {
    return {
      microphone: this.microphoneOn && this.camera.getAudioTracks().length > 0,
      camera: this.cameraOn && this.camera.getVideoTracks().length > 0,
      screenShare: this.screen !== null,
      screenTrackId: this.screen?.stream.getVideoTracks()[0]?.id ?? null,
    };
  }

  /** What adaptive quality currently lets the camera send. */
  get quality(): QualityLevel {
    return qualityLevel(this.qualityApplied.level, this.qualityPolicy ?? defaultQualityPolicy);
  }

  /**
   * Connects: creates the peer connection, listens for the peer's signals, captures camera and
   * microphone and starts negotiating. Resolves once local media is attached (connection
   * progress is reported through `connectionState` and `mediaConnected`). When the camera
   * cannot be opened the call goes on with audio only; when no device can be opened it goes on
   * receive-only; both also emit `error` with code `media`.
   */
  async start(): Promise<void> {
    if (this.phase !== "idle") throw new CallError("negotiation", "start() may be called once");
    this.phase = "starting";
    const warm = await this.options.warmup?.take(this.options.iceTransportPolicy ?? "all");
    if (this.phase !== "starting") {
      // Ended while the warm-up was still opening the camera.
      warm?.stream?.getTracks().forEach((track) => track.stop());
      warm?.pc?.close();
      return;
    }
    this.link = this.createLink(this.iceServers, warm?.pc ?? undefined);
    // Subscribed before media is captured: an early offer waits in order for the media, then is answered with it.
    this.unsubscribeSignals = this.options.channel.onSignal((s) =>
      s.type === "receiving" ? this.onPeerReceiving(s.usernameFragment) : void this.link?.negotiation.receive(s),
    );
    this.unsubscribeCallEvents = this.options.channel.onCallEvent?.((e) => this.onCallEvent(e)) ?? null;

    await this.acquireInitialMedia(warm?.stream ?? null);
    if (this.phase !== "starting") return; // ended while the user was answering the permission prompt
    this.phase = "active";
    this.connectLink(this.link);
    if (this.camera.getTracks().length > 0) this.emit("localStream", this.camera, "camera");
    this.emit("mediaState", this.mediaState);
    this.startStats();
    await this.reportMediaState();
  }

  /** Lists cameras and microphones (with labels once the user granted access). */
  async listDevices(): Promise<MediaDeviceList> {
    const devices = await mediaDevices().enumerateDevices();
    return {
      cameras: devices.filter((d) => d.kind === "videoinput"),
      microphones: devices.filter((d) => d.kind === "audioinput"),
    };
  }

  /**
   * Switches to another camera without renegotiating (the new track replaces the old one in
   * the same sender). Before start or while the camera is off, only remembers the choice.
   */
  async switchCamera(deviceId: string): Promise<void> {
    this.cameraDeviceId = deviceId;
    if (!this.cameraOn || this.camera.getVideoTracks().length === 0) return;
    const track = await this.captureTrack("video");
    if (!track) return;
    await this.useTrack(track);
  }

  /** Switches to another microphone without renegotiating; mute is kept. Before start, only remembers the choice. */
  async switchMicrophone(deviceId: string): Promise<void> {
    this.microphoneDeviceId = deviceId;
    if (this.camera.getAudioTracks().length === 0) return;
    const track = await this.captureTrack("audio");
    if (!track) return;
    track.enabled = this.microphoneOn;
    await this.useTrack(track);
  }

  /**
   * Mutes (false) or unmutes (true) the microphone; the peer receives silence while muted.
   * Before {@link CallSession.start}, the session starts muted or not accordingly.
   */
  async setMicrophoneEnabled(enabled: boolean): Promise<void> {
    this.microphoneOn = enabled;
    for (const track of this.camera.getAudioTracks()) track.enabled = enabled;
    this.emit("mediaState", this.mediaState);
    await this.reportMediaState();
  }

  /**
   * Turns the camera off (its track is stopped, so the camera light goes out) or back on
   * (captured again, then sent through the same sender, or a new one if the session started
   * without a camera, which renegotiates). Before {@link CallSession.start}, chooses whether
   * start opens the camera at all.
   */
  async setCameraEnabled(enabled: boolean): Promise<void> {
    if (this.phase === "ended") return;
    this.cameraOn = enabled;
    if (this.phase === "idle") return; // start() reads the choice
    if (!enabled) {
      for (const track of this.camera.getVideoTracks()) {
        track.stop();
        this.camera.removeTrack(track);
      }
      await this.videoSender?.replaceTrack(null);
    } else if (this.camera.getVideoTracks().length === 0) {
      const track = await this.captureTrack("video");
      if (track) await this.useTrack(track);
    }
    this.emit("mediaState", this.mediaState);
    await this.reportMediaState();
  }

  /**
   * Shares a screen, window or tab (the browser asks the user which) as a second video
   * stream next to the camera, which renegotiates; the peer gets it as a `remoteStream` with
   * source `screen`. Sharing stops with {@link CallSession.stopScreenShare} or the browser's
   * own "stop sharing" button.
   * @throws CallError with code `media` when the user declines or capture fails.
   */
  async startScreenShare(): Promise<void> {
    const pc = this.requireActive();
    if (this.screen) return;
    let stream: MediaStream;
    try {
      stream = await mediaDevices().getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      throw new CallError("media", "screen capture was refused or failed", { cause: error });
    }
    const track = stream.getVideoTracks()[0];
    if (!track || this.phase !== "active") {
      for (const t of stream.getTracks()) t.stop();
      if (!track) throw new CallError("media", "screen capture returned no video track");
      return;
    }
    // Text and lines stay sharp: the encoder keeps resolution and drops frame rate instead.
    track.contentHint = "detail";
    track.addEventListener("ended", () => void this.stopScreenShare(), { signal: this.listeners.signal });
    this.screen = { stream, sender: pc.addTrack(track, stream) };
    this.emit("localStream", stream, "screen");
    this.emit("mediaState", this.mediaState);
    await this.reportMediaState();
  }

  /**
   * Stops sharing: the screen track is stopped and its sender removed, which renegotiates.
   * The camera was never replaced, so the peer keeps seeing it as before.
   */
  async stopScreenShare(): Promise<void> {
    const screen = this.screen;
    if (!screen) return;
    this.screen = null;
    for (const track of screen.stream.getTracks()) track.stop();
    if (this.pc && this.pc.signalingState !== "closed") this.pc.removeTrack(screen.sender);
    this.emit("mediaState", this.mediaState);
    await this.reportMediaState();
  }

  /** Passes on the peer's media state received from the platform; emitted as `remoteMediaState`. */
  setRemoteMediaState(state: MediaState): void {
    if (this.phase === "ended") return;
    this.emit("remoteMediaState", { ...state });
  }

  /**
   * Restarts ICE with fresh ICE servers from {@link SignalingChannel.refreshIceServers}. The
   * session does this by itself when the connection fails or stays disconnected; call it
   * when the app knows the network changed.
   */
  async restartIce(reason: IceRestartReason = "manual"): Promise<void> {
    const pc = this.pc;
    if (!pc || this.phase === "ended" || this.restarting) return;
    this.restarting = true;
    this.clearTimer(this.restartTimer);
    try {
      this.restartsWithoutSuccess += 1;
      if (this.restartsWithoutSuccess > (this.options.maxIceRestarts ?? 5)) {
        this.fail("ice", "the connection did not come back after repeated ICE restarts");
        this.end("connection_failed");
        return;
      }
      this.emit("iceRestart", reason);
      // Armed first, so a restart that cannot even fetch servers (network down) is retried too;
      // a connection stuck in `failed` fires no further state change to retry on.
      this.restartTimer = this.schedule(this.options.iceRestartTimeoutMs ?? 10_000, () => {
        // A restart while media still flowed never leaves `connected`, so count it as a success here.
        if (pc.connectionState === "connected") this.restartsWithoutSuccess = 0;
        else void this.restartIce(reason);
      });
      const iceServers = await this.options.channel.refreshIceServers();
      if (pc.signalingState === "closed") return; // ended while waiting for the servers
      // TURN credentials expire; a restart gathers new relay candidates, so it needs new ones.
      this.iceServers = iceServers;
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
      pc.restartIce(); // fires negotiationneeded: perfect negotiation sends the restart offer
    } catch (error) {
      this.fail("ice", "could not restart ICE", error);
    } finally {
      this.restarting = false;
    }
  }

  /**
   * Ends the session: stops every local track, closes the connection, removes every listener
   * and timer, emits `ended` and drops all subscriptions. Safe to call more than once.
   * @param reason Passed to `ended`; `local` by default, or the platform's end reason.
   */
  end(reason = "local"): void {
    if (this.phase === "ended") return;
    this.phase = "ended";
    this.listeners.abort();
    this.link?.negotiation.close();
    this.link?.listeners.abort();
    this.unsubscribeSignals?.();
    this.unsubscribeSignals = null;
    this.unsubscribeCallEvents?.();
    this.unsubscribeCallEvents = null;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.statsTimer = null;
    for (const track of this.camera.getTracks()) track.stop();
    for (const track of this.screen?.stream.getTracks() ?? []) track.stop();
    this.screen = null;
    this.pc?.close();
    for (const { stream } of this.remote.values()) for (const track of stream.getTracks()) track.stop();
    this.remote.clear();
    this.emit("ended", reason);
    this.removeAllListeners();
  }

  /**
   * A new peer connection with its negotiation (or the warm-up's, which already gathered its
   * relay candidates); nothing runs until {@link CallSession.connectLink}.
   */
  private createLink(iceServers: RTCIceServer[], warm?: RTCPeerConnection): Link {
    const pc = warm ?? new RTCPeerConnection({ iceServers, iceTransportPolicy: this.options.iceTransportPolicy ?? "all" });
    const listeners = new AbortController();
    const negotiation = new PerfectNegotiation(pc, {
      polite: this.options.polite,
      send: (signal) => this.options.channel.send(signal),
      onError: (error) => this.fail("negotiation", "negotiation step failed", error),
    });
    const signal = listeners.signal;
    pc.addEventListener("negotiationneeded", () => void negotiation.negotiate(), { signal });
    pc.addEventListener(
      "icecandidate",
      (event) => {
        if (event.candidate) void negotiation.sendCandidate(event.candidate.toJSON());
      },
      { signal },
    );
    pc.addEventListener(
      "track",
      (event) => {
        this.onRemoteTrack(event);
        // The track's first packets arrived: read the stats now rather than at the next probe.
        event.track.addEventListener("unmute", () => this.link?.pc === pc && void this.observeOnce(this.link), { signal });
      },
      { signal },
    );
    pc.addEventListener("connectionstatechange", () => this.onConnectionState(pc.connectionState), { signal });
    return { pc, negotiation, listeners, inboundBytes: 0, receiving: false, peerReceiving: false, nextConfirmationAt: 0, connected: false };
  }

  /**
   * Attaches local media to the link's connection, then lets negotiation run: the signals that
   * waited (an early offer) are answered with this media, and on the impolite side adding the
   * tracks fires the one `negotiationneeded` that makes the first offer.
   */
  private connectLink(link: Link): void {
    if (link.connected) return;
    link.connected = true;
    const pc = link.pc;
    const sending = new Set(pc.getSenders().map((sender) => sender.track));
    for (const track of this.camera.getTracks()) {
      if (sending.has(track)) continue; // a camera turned on while this connection waited for its ICE servers
      const sender = pc.addTrack(track, this.camera);
      if (track.kind === "audio") this.audioSender = sender;
      else this.videoSender = sender;
    }
    if (!this.options.polite) {
      // The offer asks for the peer's audio and video even where this side sends none, so the
      // peer's media needs no second round.
      const kinds = new Set(this.camera.getTracks().map((t) => t.kind));
      for (const kind of ["audio", "video"]) if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
    }
    if (this.screen) {
      const track = this.screen.stream.getVideoTracks()[0];
      if (track && !sending.has(track)) this.screen = { stream: this.screen.stream, sender: pc.addTrack(track, this.screen.stream) };
    }
    link.negotiation.open();
    this.startProbing();
  }

  private onCallEvent(event: CallChannelEvent): void {
    if (this.phase === "ended" || this.phase === "idle") return;
    switch (event.type) {
      case "peerRejoined":
        void this.replaceLink();
        break;
      case "peerConnection":
        if (!event.connected) {
          this.showingReconnecting = true;
          this.emit("reconnecting", { graceEndsAt: event.graceEndsAt });
        } else {
          if (this.link) this.link.peerReceiving = true;
          this.checkTwoWay();
          if (this.showingReconnecting) {
            this.showingReconnecting = false;
            this.emit("back");
          }
        }
        break;
      case "callConnected":
        if (this.link) this.link.peerReceiving = true;
        this.checkTwoWay();
        break;
      case "callEnded":
        this.end(event.reason);
        break;
    }
  }

  /**
   * The peer rejoined with a new peer connection, so ours is dead: replace it with a new one on
   * fresh TURN credentials, with the same local media. Signals from the peer's new connection
   * queue on the new negotiation at once (they follow the rejoin in order), and run once the
   * media is attached; the impolite side then offers.
   */
  private async replaceLink(): Promise<void> {
    const old = this.link;
    if (!old) return;
    old.negotiation.close();
    old.listeners.abort();
    old.pc.close();
    for (const { stream, source } of this.remote.values()) {
      for (const track of stream.getTracks()) track.stop();
      this.emit("remoteStreamRemoved", stream, source);
    }
    this.remote.clear();
    this.clearTimer(this.disconnectedTimer);
    this.clearTimer(this.restartTimer);
    this.disconnectedTimer = this.restartTimer = null;
    this.restartsWithoutSuccess = 0;
    this.lastSnapshot = null;
    this.audioSender = this.videoSender = null;
    this.qualityApplied = { sender: null, level: 0 };
    this.qualityState = initialQualityState;
    const link = this.createLink(this.iceServers);
    this.link = link;
    this.emit("peerRejoined");
    try {
      const iceServers = await this.options.channel.refreshIceServers();
      if (this.link !== link || this.phase === "ended") return;
      this.iceServers = iceServers;
      link.pc.setConfiguration({ ...link.pc.getConfiguration(), iceServers });
    } catch (error) {
      // The servers the call started with may still be valid: go on with them.
      this.fail("ice", "could not fetch fresh ICE servers for the new peer connection", error);
    }
    if (this.link !== link) return;
    if (this.phase === "active") this.connectLink(link);
    // Still "starting": start() attaches the media to this link when it has it.
  }

  /** Reads stats often until media flows both ways, so the first confirmation and `mediaConnected` come promptly. */
  private startProbing(): void {
    if (this.phase !== "active") return;
    this.probeUntil = Date.now() + probeForMs;
    if (this.probeTimer !== null) return;
    const probe = async (): Promise<void> => {
      const link = this.link;
      if (!link || this.phase !== "active" || (link.receiving && link.peerReceiving) || Date.now() > this.probeUntil) {
        this.probeTimer = null;
        return;
      }
      await this.observeOnce(link);
      if (this.phase === "active") this.probeTimer = this.schedule(probeIntervalMs, () => void probe());
    };
    this.probeTimer = this.schedule(probeIntervalMs, () => void probe());
  }

  /** Reads the link's stats once, now, and follows its media. */
  private async observeOnce(link: Link): Promise<void> {
    try {
      const report = await link.pc.getStats();
      if (this.link === link && this.phase === "active") this.observeMedia(link, readStatsSnapshot(report.values() as Iterable<RawStats>, Date.now()));
    } catch {
      // The regular samples report stats failures.
    }
  }

  /**
   * The next confirmation is due 4 s after this one, whatever the phase of the regular stats
   * samples: waiting for the next of those could leave up to 4 s between confirmations, and
   * billing follows the later of the two sides' confirmations.
   */
  private scheduleConfirmation(link: Link): void {
    this.clearTimer(this.confirmationTimer);
    this.confirmationTimer = null;
    if (this.phase !== "active" || this.confirmationsStopped || this.link !== link) return;
    this.confirmationTimer = this.schedule(Math.max(0, link.nextConfirmationAt - Date.now()), () => {
      this.confirmationTimer = null;
      void this.observeOnce(link);
    });
  }

  /** Follows a link's media from a stats snapshot: inbound bytes growing, the peer's receiver reports; confirms for billing. */
  private observeMedia(link: Link, snapshot: StatsSnapshot): void {
    const grew = snapshot.bytesReceived > link.inboundBytes;
    link.inboundBytes = snapshot.bytesReceived;
    if (grew && !link.receiving) {
      link.receiving = true;
      this.announceReceiving(link);
    }
    if (snapshot.peerReceiving) link.peerReceiving = true;
    // Confirmations start with the first media on this connection, then go every 4 s whether or
    // not bytes grew (the platform reads a lapse from bytes that stopped growing).
    if (link.receiving && snapshot.timestamp >= link.nextConfirmationAt) void this.confirmMedia(link, snapshot);
    this.checkTwoWay();
  }

  /** The peer says its connection receives our media: if that connection is the one our link talks to, media flows our way. */
  private onPeerReceiving(usernameFragment: string): void {
    const link = this.link;
    const remote = link?.pc.remoteDescription;
    if (!link || !remote || !iceUfrags(remote.sdp).has(usernameFragment)) return; // from a connection since replaced
    link.peerReceiving = true;
    this.checkTwoWay();
  }

  /** Tells the peer, once per connection, that this side receives its media (see {@link CallSession.onPeerReceiving}). */
  private announceReceiving(link: Link): void {
    const [usernameFragment] = iceUfrags(link.pc.localDescription?.sdp ?? "");
    if (usernameFragment === undefined) return;
    this.options.channel.send({ type: "receiving", usernameFragment }).catch((error: unknown) => {
      // The platform's CallConnected says the same a moment later.
      this.fail("signaling", "could not tell the peer that its media arrives", error);
    });
  }

  private checkTwoWay(): void {
    const link = this.link;
    if (!link || !link.receiving || !link.peerReceiving || this.mediaConnectedReported || this.phase !== "active") return;
    this.mediaConnectedReported = true;
    this.emit("mediaConnected");
  }

  private async confirmMedia(link: Link, snapshot: StatsSnapshot): Promise<void> {
    const channel = this.options.channel;
    if (!channel.confirmMedia || this.confirming || this.confirmationsStopped) return;
    this.confirming = true;
    link.nextConfirmationAt = snapshot.timestamp + confirmationIntervalMs - confirmationSlackMs;
    try {
      const stats = this.unsentStats ?? undefined;
      this.unsentStats = null;
      const outcome = await channel.confirmMedia({ inboundBytes: snapshot.bytesReceived, sampledAt: snapshot.timestamp, stats });
      this.confirmationFailed = false;
      if (this.phase === "ended") return;
      if (outcome.status === "ended") {
        // The call ended while this client missed the event (it was away): close as the platform would have.
        this.confirmationsStopped = true;
        this.end("call_ended");
      } else if (outcome.status === "counted" && outcome.billing && this.link === link) {
        // Both sides' confirmations count: the peer receives too.
        link.peerReceiving = true;
        this.checkTwoWay();
      }
    } catch (error) {
      // Reported once per run of failures: a platform that is away fails every 4 s.
      if (!this.confirmationFailed) this.fail("signaling", "could not confirm media to the platform", error);
      this.confirmationFailed = true;
    } finally {
      this.confirming = false;
      this.scheduleConfirmation(link);
    }
  }

  /** The warm-up's media when it has some (a camera turned off before start() is stopped), else captured now. */
  private async acquireInitialMedia(warm: MediaStream | null): Promise<void> {
    const stream = warm ?? (await this.captureInitialMedia());
    if (!stream) return;
    if (this.phase !== "starting") {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    for (const track of stream.getTracks()) {
      if (track.kind === "video" && !this.cameraOn) {
        track.stop();
        continue;
      }
      this.camera.addTrack(track);
      const deviceId = track.getSettings().deviceId;
      if (track.kind === "audio") {
        track.enabled = this.microphoneOn; // muted before start()
        this.microphoneDeviceId = deviceId;
      } else {
        this.cameraDeviceId = deviceId;
      }
    }
  }

  /** Camera and microphone, else the microphone alone, else nothing (each failure reported as `media`). */
  private async captureInitialMedia(): Promise<MediaStream | null> {
    const media = this.options.media ?? {};
    const audio = media.audio === false ? false : withDevice(media.audio ?? true, this.microphoneDeviceId);
    // Turned off before start(): the camera is not opened at all (no light, no prompt for it).
    const video = media.video === false || !this.cameraOn ? false : withDevice(media.video ?? true, this.cameraDeviceId);
    if (!audio && !video) return null;
    try {
      return await mediaDevices().getUserMedia({ audio, video });
    } catch (error) {
      this.fail("media", video && audio ? "could not open camera and microphone; trying the microphone alone" : "could not open the media devices", error);
      if (!video || !audio) return null;
      try {
        return await mediaDevices().getUserMedia({ audio });
      } catch (audioError) {
        this.fail("media", "could not open the microphone either; joining receive-only", audioError);
        return null;
      }
    }
  }

  /** Captures one camera or microphone track from the chosen device; null (with an `error` event) on failure. */
  private async captureTrack(kind: "audio" | "video"): Promise<MediaStreamTrack | null> {
    const { audio = true, video = true } = this.options.media ?? {};
    const constraints =
      kind === "audio"
        ? { audio: withDevice(audio === false ? true : audio, this.microphoneDeviceId) }
        : { video: withDevice(video === false ? true : video, this.cameraDeviceId) };
    try {
      const stream = await mediaDevices().getUserMedia(constraints);
      const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
      for (const other of stream.getTracks()) if (other !== track) other.stop();
      if (!track) return null;
      if (this.phase === "ended") {
        track.stop();
        return null;
      }
      return track;
    } catch (error) {
      this.fail("media", `could not open the ${kind === "audio" ? "microphone" : "camera"}`, error);
      return null;
    }
  }

  /** Puts a freshly captured camera or microphone track in place of the current one of its kind. */
  private async useTrack(track: MediaStreamTrack): Promise<void> {
    const pc = this.pc;
    const existing = track.kind === "audio" ? this.audioSender : this.videoSender;
    if (existing) {
      // replaceTrack keeps the negotiated codec and bitrate settings: no renegotiation.
      await existing.replaceTrack(track);
    } else if (pc && this.phase === "active") {
      const sender = pc.addTrack(track, this.camera);
      if (track.kind === "audio") this.audioSender = sender;
      else this.videoSender = sender;
    }
    for (const old of track.kind === "audio" ? this.camera.getAudioTracks() : this.camera.getVideoTracks()) {
      old.stop();
      this.camera.removeTrack(old);
    }
    this.camera.addTrack(track);
    const deviceId = track.getSettings().deviceId;
    if (track.kind === "audio") this.microphoneDeviceId = deviceId;
    else this.cameraDeviceId = deviceId;
    this.emit("localStream", this.camera, "camera");
  }

  private onRemoteTrack(event: RTCTrackEvent): void {
    const stream = event.streams[0] ?? new MediaStream([event.track]);
    if (this.remote.has(stream.id)) return; // a track added to a stream we already announced
    const hasCamera = [...this.remote.values()].some((r) => r.source === "camera");
    const entry = { stream, source: hasCamera ? ("screen" as const) : ("camera" as const) };
    this.remote.set(stream.id, entry);
    stream.addEventListener(
      "removetrack",
      () => {
        if (stream.getTracks().length > 0 || !this.remote.delete(stream.id)) return;
        this.emit("remoteStreamRemoved", stream, entry.source);
      },
      { signal: this.listeners.signal },
    );
    this.emit("remoteStream", stream, entry.source);
  }

  private onConnectionState(state: RTCPeerConnectionState): void {
    if (this.phase === "ended") return;
    this.emit("connectionState", state);
    this.clearTimer(this.disconnectedTimer);
    this.disconnectedTimer = null;
    switch (state) {
      case "connected":
        this.restartsWithoutSuccess = 0;
        this.clearTimer(this.restartTimer);
        this.restartTimer = null;
        break;
      case "disconnected":
        // Often a brief network hiccup that ICE heals by itself; restart only if it lasts.
        this.disconnectedTimer = this.schedule(this.options.disconnectedTimeoutMs ?? 3000, () => {
          if (this.pc?.connectionState === "disconnected") void this.restartIce("disconnected");
        });
        break;
      case "failed":
        void this.restartIce("failed");
        break;
    }
  }

  private startStats(): void {
    const interval = this.options.statsIntervalMs ?? 2000;
    this.statsTimer = setInterval(() => void this.sampleStats(), interval);
    this.startProbing();
  }

  private async sampleStats(): Promise<void> {
    const link = this.link;
    // A slow getStats() must not pile up samples behind it.
    if (!link || this.sampling || this.phase !== "active") return;
    this.sampling = true;
    try {
      const report = await link.pc.getStats();
      if (this.phase !== "active" || this.link !== link) return;
      const snapshot = readStatsSnapshot(report.values() as Iterable<RawStats>, Date.now());
      const stats = computeCallStats(this.lastSnapshot, snapshot);
      this.lastSnapshot = snapshot;
      this.emit("stats", stats);
      if (link.receiving) {
        if (this.options.channel.confirmMedia) {
          this.unsentStats = stats; // travels with the next media confirmation: one message every 4 s, not two
        } else {
          this.options.channel.reportStats(stats).catch((error: unknown) => this.fail("signaling", "could not report stats", error));
        }
      }
      this.observeMedia(link, snapshot);
      await this.adaptQuality(stats);
    } catch (error) {
      this.fail("stats", "could not sample connection stats", error);
    } finally {
      this.sampling = false;
    }
  }

  private async adaptQuality(stats: CallStats): Promise<void> {
    const policy = this.qualityPolicy;
    const sender = this.videoSender;
    if (!policy || !sender || this.pc?.connectionState !== "connected") return;
    this.qualityState = nextQualityState(this.qualityState, stats, policy);
    const applied = this.qualityApplied;
    // Also re-apply when the camera got a new sender (camera turned on after joining without one).
    const senderChanged = applied.sender !== null && applied.sender !== sender;
    if (this.qualityState.level === applied.level && !senderChanged) return;
    const quality = qualityLevel(this.qualityState.level, policy);
    const parameters = sender.getParameters();
    if (parameters.encodings.length === 0) return; // not negotiated yet; retried on the next sample
    await sender.setParameters(applyQualityToParameters(parameters, quality));
    this.qualityApplied = { sender, level: quality.level };
    if (quality.level !== applied.level) this.emit("quality", quality);
  }

  private async reportMediaState(): Promise<void> {
    if (this.phase !== "active") return;
    try {
      await this.options.channel.reportMediaState(this.mediaState);
    } catch (error) {
      this.fail("signaling", "could not report media state", error);
    }
  }

  private requireActive(): RTCPeerConnection {
    if (this.phase !== "active" || !this.pc) throw new CallError("negotiation", "the session is not active: call start() first");
    return this.pc;
  }

  private schedule(ms: number, run: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clearTimer(timer: ReturnType<typeof setTimeout> | null): void {
    if (timer === null) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private fail(code: CallErrorCode, message: string, cause?: unknown): void {
    if (this.phase === "ended") return;
    this.emit("error", new CallError(code, message, { cause }));
  }
}
