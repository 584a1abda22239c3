import { type InvocationMessage, MessageType, NullLogger } from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { describe, expect, it } from "vitest";
import { hubProtocol } from "../../src/realtime/hub-protocol.js";

describe("the MessagePack protocol, loaded on the first start", () => {
  it("writes SignalR's ping before it is loaded, byte for byte as the library does", () => {
    const lazy = hubProtocol("messagepack");
    expect(new Uint8Array(lazy.writeMessage({ type: MessageType.Ping }) as ArrayBuffer)).toEqual(
      new Uint8Array(new MessagePackHubProtocol().writeMessage({ type: MessageType.Ping }) as ArrayBuffer),
    );
    expect(() => lazy.writeMessage({ type: MessageType.Close })).toThrow(/before the client started/);
  });

  it("reads and writes what the library does once loaded, leaving undefined fields out", async () => {
    const lazy = hubProtocol("messagepack");
    await lazy.ready();
    const invocation: InvocationMessage = {
      type: MessageType.Invocation, target: "SendSignal", arguments: ["call-1", { type: "offer", payload: "v=0", extra: undefined }], invocationId: "1", streamIds: [],
    };
    const written = lazy.writeMessage(invocation) as ArrayBuffer;
    const [parsed] = new MessagePackHubProtocol().parseMessages(written, NullLogger.instance) as InvocationMessage[];
    expect(parsed).toMatchObject({ target: "SendSignal", arguments: ["call-1", { type: "offer", payload: "v=0" }] });
    expect(Object.keys(parsed!.arguments[1] as object)).toEqual(["type", "payload"]);
    expect((lazy.parseMessages(written, NullLogger.instance) as InvocationMessage[])[0]!.target).toBe("SendSignal");
  });

  it("refuses a protocol it does not know", () => {
    expect(() => hubProtocol("xml" as "json")).toThrow(TypeError);
  });
});
