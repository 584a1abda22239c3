// The hub's messages (docs/realtime.md, docs/calls.md). Payloads that the OpenAPI document
// describes (Call, TeacherPresence, IceServersResponse, …) are the generated REST types; the
// hub-only ones are declared here with the same camelCase JSON shape. Times are ISO 8601 strings.
import type { Call, IceServersResponse, TeacherPresence } from "../generated/api.js";
import type { MediaState } from "../signaling.js";

/** The state of the realtime connection. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting";

/** A teacher's availability as set with {@link CallernRealtime.setAvailability}. */
export type AvailabilityStatus = "available" | "away" | "offline";

/** To the student: nobody is free yet; the request waits at `position`. */
export interface CallQueuedEvent {
  callId: string;
  /** 1 is next in line. */
  position: number;
  /** When the request ends as `no_teacher` unless a teacher frees up. */
  giveUpAt: string;
}

/** To the student: this many teachers are being rung. */
export interface CallRingingEvent {
  callId: string;
  teachersRinging: number;
}

/** What a teacher sees of the student before accepting. */
export interface StudentPreview {
  id: string;
  displayName: string;
  level: string | null;
  targetLanguage: string | null;
  goal: string | null;
}

/** To a teacher: an offer to take a call; accept or decline before `expiresAt`. */
export interface IncomingCallEvent {
  offerId: string;
  callId: string;
  expiresAt: string;
  student: StudentPreview;
  language: string;
  level: string;
  specialization: string | null;
}

/** To a teacher: the offer is gone (`timed_out`, `revoked` because another teacher accepted, or the student cancelled). */
export interface OfferClosedEvent {
  offerId: string;
  callId: string;
  outcome: string;
}

/** The other participant of a call as each side sees them. */
export interface PeerProfile {
  id: string;
  displayName: string;
  /** `student` or `teacher`. */
  role: string;
  avatarUrl: string | null;
  level: string | null;
}

/**
 * To both sides when a teacher accepts: the peer, the ICE servers with fresh TURN credentials,
 * and the perfect-negotiation role (the teacher is polite, the student impolite).
 */
export interface CallAcceptedEvent {
  callId: string;
  peer: PeerProfile;
  polite: boolean;
  iceServers: IceServersResponse;
}

/** To both: media connected on both sides; metering started. */
export interface CallConnectedEvent {
  callId: string;
  connectedAt: string;
}

/** To both, at least every 5 s while connected. `remainingSeconds` is null where the school hides the balance. */
export interface CallTimerEvent {
  callId: string;
  elapsedSeconds: number;
  remainingSeconds: number | null;
  /** Metering is paused while a participant reconnects. */
  paused: boolean;
}

/** To the student: few minutes left. */
export interface BalanceWarningEvent {
  callId: string;
  remainingSeconds: number;
  thresholdMinutes: number;
}

/** To the peer: the other side's connection dropped (reconnecting, until `graceEndsAt`) or came back. */
export interface PeerConnectionEvent {
  callId: string;
  connected: boolean;
  graceEndsAt: string | null;
}

/** To both: the call ended; `summary` is the call as ended. */
export interface CallEndedEvent {
  callId: string;
  /** `completed`, `cancelled`, `no_teacher`, `no_minutes`, `setup_failed`, `balance_depleted`, `connection_lost`, `max_duration` or `admin_ended`. */
  reason: string;
  billedSeconds: number;
  summary: Call;
}

/** A participant's media state as the platform relays it (to the peer and the sender's other tabs). */
export interface MediaStateChangedEvent {
  callId: string;
  /** Who changed their media state. */
  userId: string;
  state: MediaState;
}

/** One chat message of a call; `seq` counts from 1 per call, without gaps. */
export interface ChatMessage {
  callId: string;
  seq: number;
  senderId: string;
  text: string;
  sentAt: string;
}

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

/** A file shared in a call (the bytes are fetched with {@link CallRoom.fileLink} or the REST API). */
export interface CallFile {
  id: string;
  callId: string;
  uploaderId: string;
  fileName: string;
  contentType: string;
  sizeBytes: number;
  uploadedAt: string;
}

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

/** A short-lived link to a shared file that works without a bearer token (for `<a href>`). */
export interface FileLink {
  url: string;
  expiresAt: string;
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
  callAccepted: CallAcceptedEvent;
  callConnected: CallConnectedEvent;
  callTimer: CallTimerEvent;
  balanceWarning: BalanceWarningEvent;
  peerConnection: PeerConnectionEvent;
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
  | "offer_not_found"
  | "offer_closed"
  | "no_minutes"
  | "call_in_progress"
  | "teacher_busy"
  | "invalid_state"
  | "invalid_argument"
  | "forbidden"
  | "rate_limited"
  | "not_connected"
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
