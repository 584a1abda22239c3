// The client's own types. The hub's messages (CallAcceptedEvent, IncomingCallEvent, CallEndedEvent,
// MediaStateChangedEvent, ChatMessage, CallFile, …) are generated from the OpenAPI document like the
// REST types. Whiteboard operations, the board and the room state are declared here again, typed by
// kind (the generated ones have untyped data), and shadow the generated names in the package's index.
import type {
  BalanceWarningEvent,
  CallAcceptedEvent,
  CallConnectedEvent,
  CallEndedEvent,
  CallFile,
  CallQueuedEvent,
  CallRingingEvent,
  CallTimerEvent,
  ChatMessage,
  IncomingCallEvent,
  LiveCallEvent,
  MediaStateChangedEvent,
  OfferClosedEvent,
  PeerConnectionEvent,
  PeerRejoinedEvent,
  TeacherPresence,
} from "../generated/api.js";

/** The state of the realtime connection. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting";

/** A teacher's availability as set with {@link CallernRealtime.setAvailability}. */
export type AvailabilityStatus = "available" | "away" | "offline";

/** The kinds of whiteboard operation. */
export type WhiteboardOperationKind = "stroke" | "shape" | "text" | "erase" | "clear" | "undo";

/** A point on the whiteboard, each coordinate normalised to 0..1. */
export type WhiteboardPoint = [x: number, y: number];

/** The data of each whiteboard operation kind. */
export interface WhiteboardOperationData {
  stroke: { points: WhiteboardPoint[]; color: string; width: number };
  shape: { shape: "rect" | "ellipse" | "line" | "arrow"; from: WhiteboardPoint; to: WhiteboardPoint; color: string; width: number };
  text: { at: WhiteboardPoint; text: string; color: string; size: number };
  /** Removes the operations with these `seq`s. */
  erase: { seqs: number[] };
  clear: Record<string, never>;
  undo: Record<string, never>;
}

/** A whiteboard operation to send; the serialized `data` is at most 16 KiB. */
export type WhiteboardOperationInput = {
  [K in WhiteboardOperationKind]: { kind: K; data: WhiteboardOperationData[K] };
}[WhiteboardOperationKind];

/** A whiteboard operation as the platform stored and relayed it; `seq` counts per call. */
export type WhiteboardOperation = WhiteboardOperationInput & {
  callId: string;
  seq: number;
  authorId: string;
  createdAt: string;
};

/** What a room holds: each participant's media state, and the chat, whiteboard and files after the seqs asked for. */
export interface RoomState {
  callId: string;
  mediaStates: MediaStateChangedEvent[];
  messages: ChatMessage[];
  whiteboardOperations: WhiteboardOperation[];
  files: CallFile[];
}

/** The current board: the operations still visible after undo, erase and clear, up to `seq`. */
export interface Whiteboard {
  callId: string;
  seq: number;
  operations: WhiteboardOperation[];
}

/** The connection state changed; `error` is why a connection was lost, when it was. */
export interface ConnectionStateChangedEvent {
  state: ConnectionState;
  error?: Error;
}

/** The connection is back after it was lost; open rooms are catching up. */
export interface ReconnectedEvent {
  /** How many attempts it took. */
  attempts: number;
}

/** The events of {@link CallernRealtime}, by name, with their payloads. */
export interface RealtimeEvents {
  /** A teacher's status changed (to the school's admins and that teacher's own connections). */
  presenceChanged: TeacherPresence;
  callQueued: CallQueuedEvent;
  callRinging: CallRingingEvent;
  incomingCall: IncomingCallEvent;
  offerClosed: OfferClosedEvent;
  /**
   * The call was accepted: once per call for each party (a teacher's `acceptOffer` resolves
   * with the same event, and the hub also sends it; it is surfaced once).
   */
  callAccepted: CallAcceptedEvent;
  callConnected: CallConnectedEvent;
  /**
   * Every second while the call is connected: the elapsed time and, unless the school hides it, the
   * remaining time. The platform sends its figures every 30 s and when billing pauses or resumes;
   * the client counts on between them (never back while billing runs); it stops counting when
   * billing pauses (`paused: true` follows with the billed time) and when the call ends.
   */
  callTimer: CallTimerEvent;
  balanceWarning: BalanceWarningEvent;
  /**
   * Billing paused because a side's media confirmations lapsed (`connected: false`, "reconnecting…",
   * the call ends `connection_lost` at `graceEndsAt`), or two-way media is confirmed again
   * (`connected: true`, "back"). Sent to both parties.
   */
  peerConnection: PeerConnectionEvent;
  /**
   * Right after the connection opened, this user has a live call this client has no room open
   * for (the page was reloaded, or opened in a new tab): rejoin it with `rejoinCall(callId)`.
   */
  liveCall: LiveCallEvent;
  /** The peer rejoined the call with a new peer connection (its open {@link CallSession} replaces its own by itself). */
  peerRejoined: PeerRejoinedEvent;
  callEnded: CallEndedEvent;
  mediaStateChanged: MediaStateChangedEvent;
  chatMessageReceived: ChatMessage;
  whiteboardOperationReceived: WhiteboardOperation;
  fileShared: CallFile;
  connectionStateChanged: ConnectionStateChangedEvent;
  reconnected: ReconnectedEvent;
}

/** The hub's error codes (docs/realtime.md, docs/calls.md); other codes may be added. */
export type RealtimeErrorCode =
  | "call_not_found"
  | "call_ended"
  | "offer_not_found"
  | "offer_closed"
  | "no_minutes"
  | "call_in_progress"
  | "teacher_busy"
  | "invalid_state"
  | "invalid_argument"
  | "forbidden"
  | "rate_limited"
  | "unavailable"
  /** `start()` could not reach the platform (down, wrong `baseUrl`, network), or the client is stopped. */
  | "not_connected"
  /** `start()` was refused for this page's origin: the user's school does not list it (`POST /v1/settings/origins`). */
  | "origin_not_allowed"
  | (string & {});

/** A hub method refused or failed; branch on `code`, never on the message. */
export class RealtimeError extends Error {
  /** Creates the error; `cause` is the SignalR client's original error. */
  constructor(
    /** The platform's stable code (`offer_closed`, `no_minutes`, …), or `unknown`. */
    readonly code: RealtimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RealtimeError";
  }
}
