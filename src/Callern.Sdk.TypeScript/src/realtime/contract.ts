// Issue 17's hub and REST records (docs/openapi.json on main), declared here until the generated
// client has them.
import type { Call, CallState } from "../generated/api.js";

/** Sent right after a connection opens when its user has a live (accepted or connected) call. */
export interface LiveCallEvent {
  callId: string;
  state: CallState;
}

/** The other participant rejoined the call: its old peer connection is dead. */
export interface PeerRejoinedEvent {
  callId: string;
  userId: string;
}

/** A participant's media confirmation for billing (hub `ConfirmMedia`). */
export interface MediaConfirmation {
  /** When the stats were sampled, in the platform's clock (ISO 8601). */
  sampledAt: string;
  /** Sum of `bytesReceived` over the current peer connection's `inbound-rtp` stats. */
  inboundBytes: number;
}

/** The platform's answer to a {@link MediaConfirmation}. */
export interface MediaConfirmationResult {
  serverTime: string;
  mediaFlowing: boolean;
  billing: boolean;
}

/** `GET /v1/me/calls/live`: the caller's accepted or connected call, if any. */
export interface LiveCallResponse {
  call?: Call | null;
}
