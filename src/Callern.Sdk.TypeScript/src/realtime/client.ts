import { type HubConnection, HubConnectionBuilder, HubConnectionState, LogLevel } from "@microsoft/signalr";
import { type Call, CallernApiError, type CallRequest, type IceServersResponse, type TeacherPresence } from "../generated/api.js";
import type { Signal } from "../signaling.js";
import { CallRoom, decodeSignal, type RoomHost, type RoomSink, type WireSignal } from "./call-room.js";
import { Emitter } from "./emitter.js";
import {
  type AvailabilityStatus,
  type CallAcceptedEvent,
  type CallFile,
  type ChatMessage,
  type ConnectionState,
  type MediaStateChangedEvent,
  type RealtimeEvents,
  RealtimeError,
  type WhiteboardOperation,
} from "./types.js";

/** Where the platform is, how to authenticate, and how patiently to reconnect. */
export interface CallernRealtimeOptions {
  /** The platform's base URL, for example `https://callern.school.example`; the hub is `${baseUrl}/hubs/calls`. */
  baseUrl: string;
  /**
   * Returns a current access token (minted by the school's backend). Called on every connect
   * and reconnect, so an expired token is replaced without recreating the client; also used by
   * the room's REST calls (files, whiteboard).
   */
  accessToken: () => string | Promise<string>;
  /**
   * Waits before each reconnect attempt, in milliseconds; the last one repeats forever.
   * Default {@link defaultReconnectDelaysMs}.
   */
  reconnectDelaysMs?: number[];
}

/** The default reconnect backoff: at once, then 1, 2, 5, 10, 20 s, then every 30 s. */
export const defaultReconnectDelaysMs: readonly number[] = [0, 1000, 2000, 5000, 10000, 20000, 30000];

/** Signals kept for calls without a room yet (an offer can arrive before the app opens the room). */
const maxPendingCalls = 16;
const maxPendingSignalsPerCall = 500;

type Handlers = { [E in keyof RealtimeEvents]: (payload: RealtimeEvents[E]) => void };

/** The hub events that are relayed as they are, by wire name. */
const relayedEvents = {
  PresenceChanged: "presenceChanged",
  CallQueued: "callQueued",
  CallRinging: "callRinging",
  IncomingCall: "incomingCall",
  OfferClosed: "offerClosed",
  CallAccepted: "callAccepted",
  CallConnected: "callConnected",
  CallTimer: "callTimer",
  BalanceWarning: "balanceWarning",
  PeerConnection: "peerConnection",
} as const satisfies Record<string, keyof RealtimeEvents>;

/**
 * The realtime client: one connection to the platform's hub for one signed-in user (student,
 * teacher or admin). Commands are promises; events are typed (`on(name, handler)`); each call's
 * signaling, chat, whiteboard, media state and files live in its {@link CallRoom}.
 *
 * A lost connection is re-established with backoff ({@link CallernRealtimeOptions.reconnectDelaysMs}),
 * fetching a fresh token each time; commands issued meanwhile wait for it. After a reconnect
 * every open room catches up on what it missed.
 */
export class CallernRealtime {
  private readonly events = new Emitter<Handlers>();
  private readonly connection: HubConnection;
  private readonly baseUrl: string;
  private readonly delays: readonly number[];
  private readonly rooms = new Map<string, RoomSink>();
  private readonly openRooms = new Map<string, CallRoom>();
  private readonly pendingSignals = new Map<string, Signal[]>();
  private state: ConnectionState = "disconnected";
  /** Fetched once per (re)connect: negotiation and transport both ask for it. */
  private token = "";
  private starting: Promise<void> | null = null;
  private stopped = true;
  private wakeReconnect: (() => void) | null = null;
  private connectedWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  /** Creates the client; nothing connects until {@link CallernRealtime.start}. */
  constructor(private readonly options: CallernRealtimeOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.delays = options.reconnectDelaysMs?.length ? options.reconnectDelaysMs : defaultReconnectDelaysMs;
    this.connection = new HubConnectionBuilder()
      .withUrl(`${this.baseUrl}/hubs/calls`, { accessTokenFactory: () => this.token })
      // Failures reach the app as rejected promises and connectionStateChanged events.
      .configureLogging(LogLevel.None)
      .build();
    for (const [wire, name] of Object.entries(relayedEvents)) {
      this.connection.on(wire, (payload: RealtimeEvents[typeof name]) => this.events.fire(name, payload as never));
    }
    this.connection.on("Signal", (e: { callId: string; signal: WireSignal }) => this.routeSignal(e.callId, e.signal));
    this.connection.on("CallEnded", (e: RealtimeEvents["callEnded"]) => {
      this.pendingSignals.delete(e.callId);
      this.events.fire("callEnded", e);
    });
    this.connection.on("MediaStateChanged", (e: MediaStateChangedEvent) => {
      this.events.fire("mediaStateChanged", e);
      this.rooms.get(e.callId)?.mediaState(e);
    });
    this.connection.on("ChatMessageReceived", (m: ChatMessage) => {
      this.events.fire("chatMessageReceived", m);
      this.rooms.get(m.callId)?.chat(m);
    });
    this.connection.on("WhiteboardOperationReceived", (o: WhiteboardOperation) => {
      this.events.fire("whiteboardOperationReceived", o);
      this.rooms.get(o.callId)?.whiteboard(o);
    });
    this.connection.on("FileShared", (f: CallFile) => {
      this.events.fire("fileShared", f);
      this.rooms.get(f.callId)?.file(f);
    });
    this.connection.onclose((error) => void this.connectionLost(error));
  }

  /** The connection's state; changes are announced by `connectionStateChanged`. */
  get connectionState(): ConnectionState {
    return this.state;
  }

  /**
   * Subscribes `handler` to `event`. Hub events (`incomingCall`, `callAccepted`, `chatMessageReceived`, …)
   * are passed on as they arrive; a room's `onChat`/`onWhiteboard` add ordering, deduplication and catch-up.
   * @returns A function that removes the subscription.
   */
  on<E extends keyof RealtimeEvents>(event: E, handler: (payload: RealtimeEvents[E]) => void): () => void {
    return this.events.on(event, handler as Handlers[E]);
  }

  /** Connects (calling `accessToken` for the token). Rejects when the first connection fails; later losses are retried. */
  start(): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    if (this.starting) return this.starting;
    this.stopped = false;
    this.setState("connecting");
    this.starting = this.connectOnce().then(
      () => {
        this.starting = null;
        this.connected();
      },
      (error: unknown) => {
        this.starting = null;
        this.stopped = true;
        this.setState("disconnected", asError(error));
        throw new RealtimeError("not_connected", `could not connect to ${this.baseUrl}/hubs/calls`, { cause: error });
      },
    );
    return this.starting;
  }

  /** Disconnects and stops reconnecting; commands waiting for the connection reject. Rooms stay open for a later `start()`. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeReconnect?.();
    for (const waiter of this.connectedWaiters.splice(0)) waiter.reject(new RealtimeError("not_connected", "the client was stopped"));
    await this.connection.stop();
    this.setState("disconnected");
  }

  /** A teacher sets their own availability; returns the presence the school's admins now see. */
  setAvailability(status: AvailabilityStatus): Promise<TeacherPresence> {
    return this.invoke("SetAvailability", status);
  }

  /** A student asks for a teacher; returns the call (queued or ringing). Events follow: `callRinging` or `callQueued`, then `callAccepted`. */
  requestCall(request: CallRequest): Promise<Call> {
    return this.invoke("RequestCall", request);
  }

  /** Withdraws a request, or hangs up a call; returns the call as ended (idempotent). */
  endCall(callId: string): Promise<Call> {
    return this.invoke("EndCall", callId);
  }

  /** A teacher accepts an offer from `incomingCall`; returns the call's peer, ICE servers and negotiation role. */
  acceptOffer(offerId: string): Promise<CallAcceptedEvent> {
    return this.invoke("AcceptOffer", offerId);
  }

  /** A teacher declines an offer; the platform rings the next teacher. */
  async declineOffer(offerId: string): Promise<void> {
    await this.invoke<void>("DeclineOffer", offerId);
  }

  /** Fresh ICE servers (TURN credentials) for a participant of a live call. */
  refreshIceServers(callId: string): Promise<IceServersResponse> {
    return this.invoke("RefreshIceServers", callId);
  }

  /**
   * The room of a call: its signaling channel (for {@link CallSession}), chat, whiteboard, media
   * state and files. One per call: asking again returns the same room until it is closed.
   * Signals that arrived before the room was opened are handed to its first `onSignal`.
   */
  room(callId: string): CallRoom {
    const existing = this.openRooms.get(callId);
    if (existing) return existing;
    const room = new CallRoom(this.roomHost, callId);
    this.openRooms.set(callId, room);
    return room;
  }

  private readonly roomHost: RoomHost = {
    invoke: (method, ...args) => this.invoke(method, ...args),
    rest: (path, init) => this.rest(path, init),
    attach: (callId, sink) => {
      this.rooms.set(callId, sink);
      for (const signal of this.pendingSignals.get(callId) ?? []) sink.signal(signal);
      this.pendingSignals.delete(callId);
    },
    detach: (callId) => {
      this.rooms.delete(callId);
      this.openRooms.delete(callId);
    },
  };

  private routeSignal(callId: string, wire: WireSignal): void {
    const signal = decodeSignal(wire);
    if (!signal) return;
    const room = this.rooms.get(callId);
    if (room) {
      room.signal(signal);
      return;
    }
    let pending = this.pendingSignals.get(callId);
    if (!pending) {
      if (this.pendingSignals.size >= maxPendingCalls) return;
      pending = [];
      this.pendingSignals.set(callId, pending);
    }
    if (pending.length < maxPendingSignalsPerCall) pending.push(signal);
  }

  private async invoke<T>(method: string, ...args: unknown[]): Promise<T> {
    await this.whenConnected();
    try {
      return await this.connection.invoke<T>(method, ...args);
    } catch (error) {
      throw toRealtimeError(method, error, this.connection.state === HubConnectionState.Connected);
    }
  }

  private whenConnected(): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    if (this.stopped) return Promise.reject(new RealtimeError("not_connected", "call start() first"));
    return new Promise((resolve, reject) => this.connectedWaiters.push({ resolve, reject }));
  }

  private async rest<T>(path: string, init: RequestInit): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${await this.options.accessToken()}`);
    const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers });
    const text = await response.text();
    if (!response.ok) {
      const responseHeaders = Object.fromEntries(response.headers.entries());
      let problem: unknown = null;
      try {
        problem = JSON.parse(text);
      } catch {
        // Not a problem document; the raw text is in `response`.
      }
      throw new CallernApiError(`${init.method ?? "GET"} ${path} answered ${response.status}`, response.status, text, responseHeaders, problem);
    }
    return JSON.parse(text) as T;
  }

  private async connectOnce(): Promise<void> {
    this.token = await this.options.accessToken();
    await this.connection.start();
  }

  private connected(): void {
    this.setState("connected");
    for (const waiter of this.connectedWaiters.splice(0)) waiter.resolve();
  }

  private async connectionLost(error: Error | undefined): Promise<void> {
    if (this.stopped) {
      this.setState("disconnected", error);
      return;
    }
    this.setState("reconnecting", error);
    for (let attempt = 0; !this.stopped; attempt++) {
      await this.sleep(this.delays[Math.min(attempt, this.delays.length - 1)] ?? 0);
      if (this.stopped) return;
      try {
        await this.connectOnce();
      } catch {
        continue;
      }
      if (this.stopped) return;
      this.connected();
      this.events.fire("reconnected", { attempts: attempt + 1 });
      for (const room of this.rooms.values()) room.reconnected();
      return;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeReconnect = done;
    });
  }

  private setState(state: ConnectionState, error?: Error): void {
    if (this.state === state) return;
    this.state = state;
    this.events.fire("connectionStateChanged", error ? { state, error } : { state });
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Turns the SignalR client's "… HubException: code: text" into a {@link RealtimeError} with that code. */
function toRealtimeError(method: string, error: unknown, stillConnected: boolean): RealtimeError {
  const message = asError(error).message;
  const match = /HubException: ([a-z_]+): (.*)$/s.exec(message);
  if (match) return new RealtimeError(match[1] ?? "unknown", match[2] ?? message, { cause: error });
  return new RealtimeError(stillConnected ? "unknown" : "not_connected", `${method} failed: ${message}`, { cause: error });
}
