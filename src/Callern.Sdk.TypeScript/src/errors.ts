/** Which part of a call failed. */
export type CallErrorCode =
  /** Camera, microphone or screen capture could not be acquired or switched. */
  | "media"
  /** Creating or applying an offer, answer or candidate failed. */
  | "negotiation"
  /** The signaling channel refused a message or a report. */
  | "signaling"
  /** An ICE restart could not be started, or the connection did not come back. */
  | "ice"
  /** Reading `getStats()` or changing sender parameters failed. */
  | "stats";

/** An error reported by the SDK's WebRTC classes, with the underlying error as `cause`. */
export class CallError extends Error {
  /** Creates the error; `cause` is the browser's or the channel's original error. */
  constructor(
    /** Which part of the call failed. */
    readonly code: CallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CallError";
  }
}
