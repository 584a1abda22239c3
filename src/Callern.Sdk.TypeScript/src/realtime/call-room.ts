import type {
  CallFile,
  CallStatsSample,
  ChatMessage,
  FileLink,
  IceServersResponse,
  MediaConfirmation,
  MediaConfirmationResult,
  MediaStateChangedEvent,
  SignalMessage,
} from "../generated/api.js";
import type { CallChannelEvent, MediaConfirmationOutcome, MediaSample, MediaState, Signal, SignalingChannel } from "../signaling.js";
import type { CallStats } from "../stats.js";
import { Emitter } from "./emitter.js";
import { RealtimeError } from "./types.js";
import type {
  RoomState,
  Whiteboard,
  WhiteboardOperation,
  WhiteboardOperationInput,
} from "./types.js";

/** Signals kept for a room nobody listens to yet; a whole negotiation is far fewer. */
const maxBufferedSignals = 500;

/** While a call is billing, one media confirmation in this long waits for the platform's answer (the hub heartbeat). */
const answeredEveryMs = 15_000;

/** Encodes a {@link Signal} for the hub's `SendSignal`: `type` is offer, answer, pranswer, rollback, candidate or receiving; `payload` is JSON. */
export function encodeSignal(signal: Signal): SignalMessage {
  switch (signal.type) {
    case "candidate":
      return { type: "candidate", payload: JSON.stringify(signal.candidate) };
    case "receiving":
      return { type: "receiving", payload: JSON.stringify({ usernameFragment: signal.usernameFragment }) };
    default:
      return { type: signal.description.type, payload: JSON.stringify(signal.description) };
  }
}

/** Decodes a hub signal; null for kinds a {@link Signal} does not carry or a payload that is not JSON. */
export function decodeSignal(wire: SignalMessage): Signal | null {
  try {
    if (wire.type === "candidate") return { type: "candidate", candidate: JSON.parse(wire.payload) as RTCIceCandidateInit };
    if (wire.type === "receiving") {
      const { usernameFragment } = JSON.parse(wire.payload) as { usernameFragment?: unknown };
      return typeof usernameFragment === "string" ? { type: "receiving", usernameFragment } : null;
    }
    if (["offer", "answer", "pranswer", "rollback"].includes(wire.type)) {
      return { type: "description", description: JSON.parse(wire.payload) as RTCSessionDescriptionInit };
    }
  } catch {
    // A payload that is not JSON is not a signal this SDK sent; ignore it like an unknown kind.
  }
  return null;
}

/** A stats sample as the hub takes it: without its timestamp (the platform stamps its own time). */
function statsSample(stats: CallStats): CallStatsSample {
  const { timestamp: _, ...sample } = stats;
  return sample;
}

/** What {@link CallernRealtime} does for its rooms: the hub, the REST API, and event routing. */
export interface RoomHost {
  /** Invokes a hub method, waiting for the connection while it is being re-established. */
  invoke<T>(method: string, ...args: unknown[]): Promise<T>;
  /** Sends a hub message that gets no answer, waiting for the connection as {@link RoomHost.invoke} does. */
  send(method: string, ...args: unknown[]): Promise<void>;
  /** The platform's clock at this machine's time `localMs`, as last estimated. */
  serverTime(localMs: number): Date;
  /** Corrects the estimate with a server time answered to a request sent at `sentAtMs`. */
  observeServerTime(serverTime: string, sentAtMs: number): void;
  /** Calls the REST API with the current access token; `path` starts with `/v1/`. */
  rest<T>(path: string, init: RequestInit): Promise<T>;
  /** Routes the hub's events for `callId` to `sink` until {@link RoomHost.detach}. */
  attach(callId: string, sink: RoomSink): void;
  /** Stops routing events for `callId`. */
  detach(callId: string): void;
}

/** Where {@link CallernRealtime} delivers a room's events. */
export interface RoomSink {
  signal(signal: Signal): void;
  chat(message: ChatMessage): void;
  whiteboard(operation: WhiteboardOperation): void;
  mediaState(event: MediaStateChangedEvent): void;
  file(file: CallFile): void;
  /** The connection came back: catch up on what was missed. */
  reconnected(): void;
  /** The platform said something about the call (peer rejoined, media paused or back, connected, ended). */
  callEvent(event: CallChannelEvent): void;
}

interface RoomEvents {
  chat: (message: ChatMessage) => void;
  whiteboard: (operation: WhiteboardOperation) => void;
  mediaState: (event: MediaStateChangedEvent) => void;
  file: (file: CallFile) => void;
  signal: (signal: Signal) => void;
  callEvent: (event: CallChannelEvent) => void;
}

/**
 * One call's room: signaling for {@link CallSession} (it implements {@link SignalingChannel}),
 * chat, whiteboard, media state and files. Get it with {@link CallernRealtime.room}.
 *
 * Chat messages and whiteboard operations reach `onChat`/`onWhiteboard` once each, in `seq`
 * order: a gap (messages missed while the connection was down) is filled from the platform
 * before anything after it, and duplicates are dropped. A room opened mid-call therefore first
 * delivers the call's earlier messages.
 */
export class CallRoom implements SignalingChannel {
  private readonly events = new Emitter<RoomEvents>();
  private readonly bufferedSignals: Signal[] = [];
  private readonly seenFiles = new Set<string>();
  private lastChatSeq = 0;
  private lastWhiteboardSeq = 0;
  /** Chat/whiteboard delivery and catch-ups run one at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Whether the platform's latest answer to a confirmation said the call is billing, and when it was asked for. */
  private billing = false;
  private answeredAt = -Infinity;

  /** Created by {@link CallernRealtime.room}; not meant to be constructed directly. */
  constructor(
    private readonly host: RoomHost,
    /** The call this room belongs to. */
    readonly callId: string,
  ) {
    host.attach(callId, {
      signal: (signal) => this.receiveSignal(signal),
      chat: (message) => void this.enqueue(() => this.acceptChat(message)),
      whiteboard: (operation) => void this.enqueue(() => this.acceptWhiteboard(operation)),
      mediaState: (event) => this.events.fire("mediaState", event),
      file: (file) => this.acceptFile(file),
      reconnected: () => void this.catchUp().catch(() => undefined),
      callEvent: (event) => {
        // Billing stopped or the peer's connection is new: answers matter again (see confirmMedia).
        if (event.type !== "callConnected") this.billing = false;
        this.events.fire("callEvent", event);
      },
    });
  }

  /** Sends `signal` to the other participant, in order with the ones sent before. */
  async send(signal: Signal): Promise<void> {
    await this.host.invoke<void>("SendSignal", this.callId, encodeSignal(signal));
  }

  /**
   * Subscribes to the peer's signals. Signals that arrived before the first subscription were
   * kept and are handed to this handler first, in order.
   * @returns A function that removes the subscription.
   */
  onSignal(handler: (signal: Signal) => void): () => void {
    const unsubscribe = this.events.on("signal", handler);
    for (const signal of this.bufferedSignals.splice(0)) handler(signal);
    return unsubscribe;
  }

  /** Publishes this participant's media state; the platform relays it to the peer. */
  async reportMediaState(state: MediaState): Promise<void> {
    await this.updateMediaState(state);
  }

  /** Publishes this participant's media state and returns it as the platform relayed it. */
  updateMediaState(state: MediaState): Promise<MediaStateChangedEvent> {
    const { microphone, camera, screenShare } = state;
    return this.host.invoke("UpdateMediaState", this.callId, { microphone, camera, screenShare, screenTrackId: state.screenTrackId ?? null });
  }

  /**
   * Confirms media for billing (hub `ConfirmMedia`): the bytes received so far on the current
   * peer connection, stamped in the platform's clock. {@link CallSession} calls it every 4 s.
   * While the call is billing, a confirmation waits for the platform's answer only once every
   * 15 s (`answeredEveryMs`; it corrects the clock and tells of an end this client missed); the
   * others are sent without one and resolve `sent`, which halves what a live call costs a node.
   * A confirmation the platform did not count because it came too soon after the previous one
   * or too late (buffered across a reconnect) resolves `skipped`; an ended call resolves `ended`.
   * @throws RealtimeError for any other refusal.
   */
  async confirmMedia(sample: MediaSample): Promise<MediaConfirmationOutcome> {
    const confirmation: MediaConfirmation = {
      sampledAt: this.host.serverTime(sample.sampledAt).toISOString(),
      inboundBytes: Math.max(0, Math.round(sample.inboundBytes)),
      ...(sample.stats ? { stats: statsSample(sample.stats) } : {}),
    };
    const sentAt = Date.now();
    if (this.billing && sentAt - this.answeredAt < answeredEveryMs) {
      await this.host.send("ConfirmMedia", this.callId, confirmation);
      return { status: "sent" };
    }
    try {
      const result = await this.host.invoke<MediaConfirmationResult>("ConfirmMedia", this.callId, confirmation);
      this.host.observeServerTime(result.serverTime, sentAt);
      this.answeredAt = sentAt;
      this.billing = result.billing;
      return { status: "counted", mediaFlowing: result.mediaFlowing, billing: result.billing };
    } catch (error) {
      const code = error instanceof RealtimeError ? error.code : "";
      if (code === "confirmation_stale" || code === "confirmation_too_fast") return { status: "skipped" };
      if (code === "call_ended") return { status: "ended" };
      throw error;
    }
  }

  /**
   * Subscribes to what the platform says about this call: the peer rejoined, media paused
   * ("reconnecting…") or came back, the call connected or ended. {@link CallSession} follows it by itself.
   * @returns A function that removes the subscription.
   */
  onCallEvent(handler: (event: CallChannelEvent) => void): () => void {
    return this.events.on("callEvent", handler);
  }

  /** Sends a connection-quality sample on its own (the platform stamps its own time); {@link CallSession} sends them with its media confirmations instead. */
  async reportStats(stats: CallStats): Promise<void> {
    await this.host.invoke<void>("ReportStats", this.callId, statsSample(stats));
  }

  /** Fresh ICE servers (new TURN credentials) for an ICE restart. */
  async refreshIceServers(): Promise<RTCIceServer[]> {
    const response = await this.host.invoke<IceServersResponse>("RefreshIceServers", this.callId);
    return response.iceServers.map(({ urls, username, credential }) => ({ urls, username, credential }));
  }

  /** Sends a chat message (1–2000 characters after trimming); it also reaches `onChat`, once. */
  async sendChat(text: string): Promise<ChatMessage> {
    const message = await this.host.invoke<ChatMessage>("SendChatMessage", this.callId, text);
    this.enqueue(() => this.acceptChat(message));
    return message;
  }

  /** Draws on the shared whiteboard; the stored operation also reaches `onWhiteboard`, once. */
  async sendWhiteboard(operation: WhiteboardOperationInput): Promise<WhiteboardOperation> {
    const stored = await this.host.invoke<WhiteboardOperation>("SendWhiteboardOperation", this.callId, operation);
    this.enqueue(() => this.acceptWhiteboard(stored));
    return stored;
  }

  /**
   * Subscribes to chat messages: each once, in `seq` order, own messages included.
   * @returns A function that removes the subscription.
   */
  onChat(handler: (message: ChatMessage) => void): () => void {
    return this.events.on("chat", handler);
  }

  /**
   * Subscribes to whiteboard operations: each once, in `seq` order, own operations included.
   * @returns A function that removes the subscription.
   */
  onWhiteboard(handler: (operation: WhiteboardOperation) => void): () => void {
    return this.events.on("whiteboard", handler);
  }

  /**
   * Subscribes to media state changes of both participants (`userId` says whose).
   * @returns A function that removes the subscription.
   */
  onMediaState(handler: (event: MediaStateChangedEvent) => void): () => void {
    return this.events.on("mediaState", handler);
  }

  /**
   * Subscribes to files shared in the call, each once.
   * @returns A function that removes the subscription.
   */
  onFile(handler: (file: CallFile) => void): () => void {
    return this.events.on("file", handler);
  }

  /**
   * Asks the platform for everything after the last chat and whiteboard `seq` this room has
   * seen, delivers what is new (in order, once) and every participant's media state, and
   * returns the state. Runs by itself after a reconnect.
   */
  catchUp(): Promise<RoomState> {
    return this.enqueue(() => this.fetchMissed());
  }

  /** Uploads a file to the call (multipart, the platform checks size and type); it also reaches `onFile`. */
  async uploadFile(file: Blob, fileName: string): Promise<CallFile> {
    const form = new FormData();
    form.append("file", file, fileName);
    const uploaded = await this.host.rest<CallFile>(`/v1/calls/${encodeURIComponent(this.callId)}/files`, { method: "POST", body: form });
    this.acceptFile(uploaded);
    return uploaded;
  }

  /** A short-lived URL for a shared file that works without a token (for `<a href>`). */
  fileLink(fileId: string): Promise<FileLink> {
    const path = `/v1/calls/${encodeURIComponent(this.callId)}/files/${encodeURIComponent(fileId)}/link`;
    return this.host.rest<FileLink>(path, { method: "POST" });
  }

  /** The current board: the operations still visible after undo, erase and clear. */
  whiteboard(): Promise<Whiteboard> {
    return this.host.rest<Whiteboard>(`/v1/calls/${encodeURIComponent(this.callId)}/whiteboard`, { method: "GET" });
  }

  /** Removes every listener and stops routing this call's events here; `room(callId)` makes a new room. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.clear();
    this.bufferedSignals.length = 0;
    this.host.detach(this.callId);
  }

  private receiveSignal(signal: Signal): void {
    if (this.events.listenerCount("signal") > 0) {
      this.events.fire("signal", signal);
    } else if (this.bufferedSignals.length < maxBufferedSignals) {
      this.bufferedSignals.push(signal);
    }
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async acceptChat(message: ChatMessage): Promise<void> {
    if (message.seq > this.lastChatSeq + 1) await this.fetchMissed().catch(() => undefined);
    this.deliverChat(message);
  }

  private async acceptWhiteboard(operation: WhiteboardOperation): Promise<void> {
    if (operation.seq > this.lastWhiteboardSeq + 1) await this.fetchMissed().catch(() => undefined);
    this.deliverWhiteboard(operation);
  }

  private deliverChat(message: ChatMessage): void {
    if (this.closed || message.seq <= this.lastChatSeq) return;
    this.lastChatSeq = message.seq;
    this.events.fire("chat", message);
  }

  private deliverWhiteboard(operation: WhiteboardOperation): void {
    if (this.closed || operation.seq <= this.lastWhiteboardSeq) return;
    this.lastWhiteboardSeq = operation.seq;
    this.events.fire("whiteboard", operation);
  }

  private acceptFile(file: CallFile): void {
    if (this.closed || this.seenFiles.has(file.id)) return;
    this.seenFiles.add(file.id);
    this.events.fire("file", file);
  }

  private async fetchMissed(): Promise<RoomState> {
    const state = await this.host.invoke<RoomState>("GetRoomState", this.callId, this.lastChatSeq, this.lastWhiteboardSeq);
    for (const message of [...state.messages].sort((a, b) => a.seq - b.seq)) this.deliverChat(message);
    for (const operation of [...state.whiteboardOperations].sort((a, b) => a.seq - b.seq)) this.deliverWhiteboard(operation);
    for (const file of state.files) this.acceptFile(file);
    if (!this.closed) for (const event of state.mediaStates) this.events.fire("mediaState", event);
    return state;
  }
}
