import type { CallTimerEvent } from "../generated/api.js";

/**
 * Turns the platform's `CallTimer` events (every 30 s while a call is connected, and at once when
 * billing pauses or resumes) into one a second: between two of them it counts on from the latest,
 * as a clock on screen should. While billing runs, the elapsed time shown never goes back (the
 * platform's figure trails real time by up to a confirmation interval, since it bills only what both
 * sides confirmed); the remaining time follows the platform's (a top-up raises it). A paused timer
 * is shown as the platform sends it, without the seconds it did not bill.
 */
export class CallTimerCounter {
  private readonly counting = new Map<string, { shown: CallTimerEvent; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly emit: (event: CallTimerEvent) => void) {}

  /** The platform's timer for a call: shown at once, then counted on every second unless paused. */
  received(event: CallTimerEvent): void {
    const previous = this.counting.get(event.callId)?.shown;
    this.stop(event.callId);
    const shown = event.paused || !previous ? event : ahead(previous, event); // only a running count is kept
    this.emit(shown);
    if (!shown.paused && shown.remainingSeconds !== 0) this.countFrom(shown);
  }

  /** Billing paused (media lapsed) or the call ended: stop counting until the platform's next timer. */
  stop(callId: string): void {
    const entry = this.counting.get(callId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.counting.delete(callId);
  }

  /** Stops every call's count (the client stops). */
  stopAll(): void {
    for (const callId of [...this.counting.keys()]) this.stop(callId);
  }

  private countFrom(shown: CallTimerEvent): void {
    const timer = setTimeout(() => {
      const next: CallTimerEvent = {
        ...shown,
        elapsedSeconds: shown.elapsedSeconds + 1,
        remainingSeconds: shown.remainingSeconds == null ? shown.remainingSeconds : Math.max(0, shown.remainingSeconds - 1),
      };
      this.emit(next);
      if (next.remainingSeconds === 0) this.counting.delete(shown.callId);
      else this.countFrom(next);
    }, 1000);
    this.counting.set(shown.callId, { shown, timer });
  }
}

/**
 * The platform's timer, shown no earlier than the count so far: the elapsed time that went furthest,
 * and what remains of the platform's time for the call (elapsed plus remaining: a top-up raises it).
 */
function ahead(counted: CallTimerEvent, platform: CallTimerEvent): CallTimerEvent {
  const elapsedSeconds = Math.max(platform.elapsedSeconds, counted.elapsedSeconds);
  const remainingSeconds =
    platform.remainingSeconds == null ? platform.remainingSeconds : Math.max(0, platform.elapsedSeconds + platform.remainingSeconds - elapsedSeconds);
  return { ...platform, elapsedSeconds, remainingSeconds };
}
