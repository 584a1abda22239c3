import { type HubConnection, HubConnectionBuilder, HubConnectionState, HttpTransportType, LogLevel } from "@microsoft/signalr";
import {
  type Call,
  type CallAcceptedEvent,
  CallernApiError,
  type CallRequest,
  type CallTimerEvent,
  type IceServersResponse,
  type LiveCallEvent,
  type LiveCallResponse,
  type PeerRejoinedEvent,
  type SignalEvent,
  type SignalMessage,
  type TeacherPresence,
} from "../generated/api.js";
import { diagnose, fetchPlatform, originNotAllowed } from "../platform-access.js";
import type { CallChannelEvent, Signal } from "../signaling.js";
import { CallRoom, decodeSignal, type RoomHost, type RoomSink } from "./call-room.js";
import { CallTimerCounter } from "./call-timer.js";
import { hubProtocol, type LoadableHubProtocol, type RealtimeProtocol } from "./hub-protocol.js";
import { Emitter } from "./emitter.js";
import {
  type AvailabilityStatus,
  type ConnectionState,
  type RealtimeEvents,
  RealtimeError,
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
  /**
   * The hub protocol: `"json"` (default) or `"messagepack"`, binary and smaller on the wire. Both
   * carry the same values, so events and answers look the same to the app either way.
   */
  protocol?: RealtimeProtocol;
}

/**
 * The default reconnect backoff: at once, then 1, 2 and 3 s, then every 5 s for the first minute,
 * then every 30 s. A live call survives the platform's reconnect grace (30 s by default, counted
 * from the last confirmed media): attempts stay 5 s apart through it, so a restarted platform is
 * found within 5 s of its return, in time to rejoin (as the C# SDK does).
 */
export const defaultReconnectDelaysMs: readonly number[] = [0, 1000, 2000, 3000, ...Array<number>(11).fill(5000), 30000];

/** Calls remembered as accepted, so each is announced once (a client lives through few calls). */
const maxAcceptedCalls = 64;

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
  BalanceWarning: "balanceWarning",
} as const satisfies Record<string, keyof RealtimeEvents>;

/**
 * The realtime client: one connection to the platform's hub for one signed-in user (student,
 * teacher or admin). Commands are promises; events are typed (`on(name, handler)`); each call's
 * signaling, chat, whiteboard, media state and files live in its {@link CallRoom}.
 *
 * The connection uses SignalR's stateful reconnect: a dropped WebSocket is reconnected at once to
 * the same hub connection, and messages either way that were sent meanwhile are delivered once,
 * in order (a signal from the peer is neither lost nor repeated). When that fails (the platform
 * restarted, or too long a gap), the connection is re-established with backoff
 * ({@link CallernRealtimeOptions.reconnectDelaysMs}), fetching a fresh token each time; commands
 * issued meanwhile wait for it. After such a reconnect every open room catches up on what it missed.
 *
 * `callAccepted` is emitted once per call, whether it came as the hub event or as the return
 * value of {@link CallernRealtime.acceptOffer}.
 */
export class CallernRealtime {
  private readonly events = new Emitter<Handlers>();
  private readonly timers = new CallTimerCounter((e) => this.events.fire("callTimer", e));
  private readonly connection: HubConnection;
  private readonly protocol: LoadableHubProtocol;
  private readonly baseUrl: string;
  private readonly delays: readonly number[];
  private readonly rooms = new Map<string, RoomSink>();
  private readonly openRooms = new Map<string, CallRoom>();
  private readonly pendingSignals = new Map<string, Signal[]>();
  private readonly acceptedCalls = new Set<string>();
  /** Calls rejoined before their room was opened: the room catches up as it opens. */
  private readonly rejoinedCalls = new Set<string>();
  /** Rejoins under way, by call id: one `RejoinCall` per call at a time. */
  private readonly rejoining = new Map<string, Promise<CallAcceptedEvent>>();
  /** The platform's clock minus this machine's, in ms (from the latest server time seen). */
  private serverClockOffsetMs = 0;
  private state: ConnectionState = "disconnected";
  /** Fetched once per (re)connect: negotiation and transport both ask for it. */
  private token = "";
  private starting: Promise<void> | null = null;
  private stopped = true;
  /** Counts stop() calls, so a retry loop from before a stop() and start() ends instead of racing the new connection. */
  private run = 0;
  private wakeReconnect: (() => void) | null = null;
  private connectedWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  /** Creates the client; nothing connects until {@link CallernRealtime.start}. */
  constructor(private readonly options: CallernRealtimeOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.delays = options.reconnectDelaysMs?.length ? options.reconnectDelaysMs : defaultReconnectDelaysMs;
    this.protocol = hubProtocol(options.protocol ?? "json");
    this.connection = new HubConnectionBuilder()
      // The platform's only transport (docs/realtime.md): no fallback attempts when a socket fails.
      .withUrl(`${this.baseUrl}/hubs/calls`, { accessTokenFactory: () => this.token, transport: HttpTransportType.WebSockets })
      // Failures reach the app as rejected promises and connectionStateChanged events.
      .configureLogging(LogLevel.None)
      // Signals sent while a WebSocket reconnects arrive once, in order, instead of being lost.
      .withStatefulReconnect()
      .withHubProtocol(this.protocol)
      .build();
    for (const [wire, name] of Object.entries(relayedEvents)) {
      this.connection.on(wire, (payload: RealtimeEvents[typeof name]) => this.events.fire(name, payload as never));
    }
    this.connection.on("Signal", (e: SignalEvent) => this.routeSignal(e.callId, e.signal));
    this.connection.on("CallAccepted", (e: CallAcceptedEvent) => this.accepted(e));
    this.connection.on("CallConnected", (e: RealtimeEvents["callConnected"]) => {
      this.events.fire("callConnected", e);
      this.rooms.get(e.callId)?.callEvent({ type: "callConnected", connectedAt: e.connectedAt });
    });
    this.connection.on("CallTimer", (e: CallTimerEvent) => this.timers.received(e));
    this.connection.on("PeerConnection", (e: RealtimeEvents["peerConnection"]) => {
      if (!e.connected) this.timers.stop(e.callId);
      this.events.fire("peerConnection", e);
      this.rooms.get(e.callId)?.callEvent({ type: "peerConnection", connected: e.connected, graceEndsAt: e.graceEndsAt ?? null });
    });
    this.connection.on("PeerRejoined", (e: PeerRejoinedEvent) => {
      this.events.fire("peerRejoined", e);
      this.rooms.get(e.callId)?.callEvent({ type: "peerRejoined" });
    });
    this.connection.on("LiveCall", (e: LiveCallEvent) => {
      // A client that still has the call's room open never left the call: its media flows peer to peer.
      if (!this.rooms.has(e.callId)) this.events.fire("liveCall", e);
    });
    this.connection.on("CallEnded", (e: RealtimeEvents["callEnded"]) => {
      this.pendingSignals.delete(e.callId);
      this.timers.stop(e.callId);
      this.events.fire("callEnded", e);
      this.rooms.get(e.callId)?.callEvent({ type: "callEnded", reason: e.reason });
    });
    this.relayToRoom("MediaStateChanged", "mediaStateChanged", (room, e) => room.mediaState(e));
    this.relayToRoom("ChatMessageReceived", "chatMessageReceived", (room, m) => room.chat(m));
    this.relayToRoom("WhiteboardOperationReceived", "whiteboardOperationReceived", (room, o) => room.whiteboard(o));
    this.relayToRoom("FileShared", "fileShared", (room, f) => room.file(f));
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

  /**
   * Connects (calling `accessToken` for the token). Rejects when the first connection fails, with
   * {@link RealtimeError} code `origin_not_allowed` when the platform refused this page's origin,
   * else `not_connected`; later losses are retried.
   */
  start(): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    if (this.state === "reconnecting") return this.whenConnected(); // the retry loop owns the connection
    if (this.starting) return this.starting;
    this.stopped = false;
    this.setState("connecting");
    this.starting = this.connectOnce().then(
      () => {
        this.starting = null;
        this.connected();
      },
      async (error: unknown) => {
        this.starting = null;
        this.stopped = true;
        this.setState("disconnected", asError(error));
        throw (await this.originRefused(error))
          ? new RealtimeError(originNotAllowed, `the platform refused this page's origin for ${this.baseUrl}/hubs/calls`, { cause: error })
          : new RealtimeError("not_connected", `could not connect to ${this.baseUrl}/hubs/calls`, { cause: error });
      },
    );
    return this.starting;
  }

  /**
   * A refused negotiation carries the platform's problem details in the SignalR client's error
   * message when the browser could read it (some school lists the origin); a CORS refusal reads
   * like a network failure, which the origin probe tells apart.
   */
  private async originRefused(error: unknown): Promise<boolean> {
    if (asError(error).message.includes(`"${originNotAllowed}"`)) return true;
    return typeof document !== "undefined" && (await diagnose(this.baseUrl, error)).code === originNotAllowed;
  }

  /** Disconnects and stops reconnecting; commands waiting for the connection reject. Rooms stay open for a later `start()`. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.run++;
    this.timers.stopAll();
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

  /**
   * A teacher accepts an offer from `incomingCall`; returns the call's peer, ICE servers and
   * negotiation role. The same event is emitted as `callAccepted`, once.
   */
  async acceptOffer(offerId: string): Promise<CallAcceptedEvent> {
    const accepted = await this.invoke<CallAcceptedEvent>("AcceptOffer", offerId);
    this.accepted(accepted);
    return accepted;
  }

  /**
   * Rejoins a live call after a reload, in a new tab, or after the connection landed on another
   * node: returns fresh ICE servers, the peer, the negotiation role, the call's state and the
   * server's time, as at accept. Start a new {@link CallSession} with them on
   * `room(callId)`; the peer gets `peerRejoined` and replaces its peer connection, and the
   * impolite side offers. The call's room catches up by itself (media states, chat, whiteboard,
   * files), delivering to its `onMediaState`, `onChat`, `onWhiteboard` and `onFile` subscribers.
   * Find the call with the `liveCall` event or {@link CallernRealtime.findLiveCall}.
   * Asking again while a rejoin of the same call is under way (the `liveCall` event and
   * `findLiveCall` at page load) shares it: the peer is told once, not twice, so its new peer
   * connection is not replaced again under the first offer.
   * @throws RealtimeError `call_ended` when the call ended meanwhile (its open room, if any, is
   *   told so and closed: a session on it ends), `call_not_found` when the user is not in it.
   */
  rejoinCall(callId: string): Promise<CallAcceptedEvent> {
    const underWay = this.rejoining.get(callId);
    if (underWay) return underWay;
    const rejoin = this.rejoinOnce(callId).finally(() => this.rejoining.delete(callId));
    this.rejoining.set(callId, rejoin);
    return rejoin;
  }

  private async rejoinOnce(callId: string): Promise<CallAcceptedEvent> {
    let rejoined: CallAcceptedEvent;
    try {
      rejoined = await this.invoke<CallAcceptedEvent>("RejoinCall", callId);
    } catch (error) {
      if (error instanceof RealtimeError && error.code === "call_ended") {
        this.pendingSignals.delete(callId);
        this.rooms.get(callId)?.callEvent({ type: "callEnded", reason: "call_ended" });
        this.openRooms.get(callId)?.close();
      }
      throw error;
    }
    this.observeServerTime(rejoined.serverTime);
    this.remember(callId);
    // The room catches up on media states, chat, whiteboard and files (GetRoomState).
    const open = this.openRooms.get(callId);
    if (open) void open.catchUp().catch(() => undefined);
    else this.rejoinedCalls.add(callId);
    return rejoined;
  }

  /** The user's live (accepted or connected) call, or null: what to rejoin after a reload (`GET /v1/me/calls/live`). */
  async findLiveCall(): Promise<Call | null> {
    const response = await this.rest<LiveCallResponse>("/v1/me/calls/live", { method: "GET" });
    return response.call ?? null;
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
    if (this.rejoinedCalls.delete(callId)) void room.catchUp().catch(() => undefined); // runs after the caller subscribed
    return room;
  }

  private readonly roomHost: RoomHost = {
    invoke: (method, ...args) => this.invoke(method, ...args),
    send: (method, ...args) => this.send(method, ...args),
    serverTime: (localMs) => new Date(localMs + this.serverClockOffsetMs),
    observeServerTime: (serverTime, sentAtMs) => this.observeServerTime(serverTime, sentAtMs),
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

  /** Relays a classroom event as it is, and hands it to its call's room, if open. */
  private relayToRoom<E extends "mediaStateChanged" | "chatMessageReceived" | "whiteboardOperationReceived" | "fileShared">(
    wire: string,
    event: E,
    deliver: (room: RoomSink, payload: RealtimeEvents[E]) => void,
  ): void {
    this.connection.on(wire, (payload: RealtimeEvents[E]) => {
      this.events.fire(event, ...([payload] as Parameters<Handlers[E]>));
      const room = this.rooms.get(payload.callId);
      if (room) deliver(room, payload);
    });
  }

  /** Emits `callAccepted` the first time a call is seen accepted (hub event or acceptOffer's result). */
  private accepted(event: CallAcceptedEvent): void {
    this.observeServerTime(event.serverTime);
    if (this.acceptedCalls.has(event.callId)) return;
    this.remember(event.callId);
    this.events.fire("callAccepted", event);
  }

  private remember(callId: string): void {
    this.acceptedCalls.add(callId);
    if (this.acceptedCalls.size > maxAcceptedCalls) {
      const oldest = this.acceptedCalls.values().next().value;
      if (oldest !== undefined) this.acceptedCalls.delete(oldest);
    }
  }

  /**
   * Takes the platform's clock from a message that carried its time: received now, or answered
   * to a request sent at `sentAtMs` (then half the round trip is added, as the server read its
   * clock about midway).
   */
  private observeServerTime(serverTime: string, sentAtMs?: number): void {
    const server = Date.parse(serverTime);
    if (!Number.isFinite(server)) return;
    const now = Date.now();
    const local = sentAtMs === undefined ? now : sentAtMs + (now - sentAtMs) / 2;
    this.serverClockOffsetMs = server - local;
  }

  private routeSignal(callId: string, wire: SignalMessage): void {
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

  private async send(method: string, ...args: unknown[]): Promise<void> {
    await this.whenConnected();
    try {
      await this.connection.send(method, ...args);
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
    const response = await fetchPlatform(this.baseUrl, globalThis.fetch.bind(globalThis), `${this.baseUrl}${path}`, { ...init, headers });
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
    await this.protocol.ready();
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
    const run = this.run;
    const cancelled = () => this.stopped || this.run !== run;
    for (let attempt = 0; !cancelled(); attempt++) {
      await this.sleep(this.delays[Math.min(attempt, this.delays.length - 1)] ?? 0);
      if (cancelled()) return;
      try {
        await this.connectOnce();
      } catch {
        continue;
      }
      if (cancelled()) return;
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
  // The client fails pending invocations with the close error, possibly before its state changed.
  const lost = !stillConnected || /connection being closed|error on close/.test(message);
  return new RealtimeError(lost ? "not_connected" : "unknown", `${method} failed: ${message}`, { cause: error });
}
