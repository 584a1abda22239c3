import { type EventMap, TypedEmitter } from "../events.js";

/** A {@link TypedEmitter} held by composition, so its owner's public surface stays its own. */
export class Emitter<Events extends EventMap<Events>> extends TypedEmitter<Events> {
  /** Calls every handler of `event` (see {@link TypedEmitter.emit}). */
  fire<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    this.emit(event, ...args);
  }

  /** Drops every subscription. */
  clear(): void {
    this.removeAllListeners();
  }
}
