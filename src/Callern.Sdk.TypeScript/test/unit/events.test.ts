import { afterEach, describe, expect, it, vi } from "vitest";
import { TypedEmitter } from "../../src/events.js";

interface DoorEvents {
  opened: (by: string) => void;
  closed: () => void;
}

class Door extends TypedEmitter<DoorEvents> {
  open(by: string): void {
    this.emit("opened", by);
  }
  close(): void {
    this.emit("closed");
  }
  teardown(): void {
    this.removeAllListeners();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("TypedEmitter", () => {
  it("calls handlers in subscription order with the event's arguments", () => {
    const door = new Door();
    const seen: string[] = [];
    door.on("opened", (by) => seen.push(`first:${by}`));
    door.on("opened", (by) => seen.push(`second:${by}`));

    door.open("ana");

    expect(seen).toEqual(["first:ana", "second:ana"]);
  });

  it("stops calling a handler once its unsubscribe function ran, even twice", () => {
    const door = new Door();
    const seen: string[] = [];
    const off = door.on("opened", (by) => seen.push(by));
    door.open("ana");

    off();
    off();
    door.open("ben");

    expect(seen).toEqual(["ana"]);
    expect(door.listenerCount("opened")).toBe(0);
  });

  it("lets a handler unsubscribe itself while the event is being emitted", () => {
    const door = new Door();
    const seen: string[] = [];
    const off = door.on("closed", () => {
      seen.push("once");
      off();
    });
    door.on("closed", () => seen.push("always"));

    door.close();
    door.close();

    expect(seen).toEqual(["once", "always", "always"]);
  });

  it("keeps calling the other handlers when one throws, and rethrows that error on a later task", () => {
    vi.useFakeTimers();
    const door = new Door();
    const seen: string[] = [];
    door.on("opened", () => {
      throw new Error("handler bug");
    });
    door.on("opened", (by) => seen.push(by));

    expect(() => door.open("ana")).not.toThrow();
    expect(seen).toEqual(["ana"]);
    expect(() => vi.runAllTimers()).toThrow("handler bug");
  });

  it("drops every subscription on teardown", () => {
    const door = new Door();
    door.on("opened", () => undefined);
    door.on("closed", () => undefined);
    expect(door.listenerCount()).toBe(2);

    door.teardown();

    expect(door.listenerCount()).toBe(0);
  });
});
