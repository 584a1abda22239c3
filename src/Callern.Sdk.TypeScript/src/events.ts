/**
 * A map from event name to handler signature, for example
 * `{ connected: () => void; stats: (s: CallStats) => void }`.
 */
export type EventMap<Events> = { [E in keyof Events]: (...args: never[]) => void };

/**
 * A small typed event emitter: `on(event, handler)` returns its own unsubscribe function, so
 * callers never need to keep the handler around to remove it.
 */
export class TypedEmitter<Events extends EventMap<Events>> {
  private readonly handlers = new Map<keyof Events, Set<Events[keyof Events]>>();

  /**
   * Subscribes `handler` to `event`.
   * @returns A function that removes this subscription; calling it twice is harmless.
   */
  on<E extends keyof Events>(event: E, handler: Events[E]): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler);
    return () => {
      this.handlers.get(event)?.delete(handler);
    };
  }

  /** How many handlers are subscribed to `event` (or to any event when omitted). */
  listenerCount(event?: keyof Events): number {
    if (event !== undefined) return this.handlers.get(event)?.size ?? 0;
    let count = 0;
    for (const set of this.handlers.values()) count += set.size;
    return count;
  }

  /**
   * Calls every handler of `event` in subscription order. A handler that throws does not stop
   * the others nor the code that emitted: its error is rethrown on a fresh task, where the
   * host's usual uncaught-error reporting sees it.
   */
  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.handlers.get(event);
    if (!set) return;
    // A copy: a handler may unsubscribe itself (or others) while we iterate.
    for (const handler of [...set]) {
      try {
        (handler as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  /** Drops every subscription; used by teardown so no handler outlives its owner. */
  protected removeAllListeners(): void {
    this.handlers.clear();
  }
}
