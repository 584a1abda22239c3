// The hub protocol a client speaks (docs/realtime.md, "MessagePack"): SignalR's JSON protocol, or
// its MessagePack protocol, whose package is loaded only by a client that asks for it, so an app on
// JSON (the default) never downloads it and a page without a bundler needs no import map entry for it.
import { type HubMessage, type IHubProtocol, type ILogger, JsonHubProtocol, MessageType, TransferFormat } from "@microsoft/signalr";

/** How the hub's messages are written on the wire. */
export type RealtimeProtocol = "json" | "messagepack";

/** A hub protocol that may need loading before the connection starts. */
export interface LoadableHubProtocol extends IHubProtocol {
  ready(): Promise<void>;
}

class JsonProtocol extends JsonHubProtocol implements LoadableHubProtocol {
  ready(): Promise<void> {
    return Promise.resolve();
  }
}

/** SignalR's MessagePack protocol, imported on the first start. */
class MessagePackProtocol implements LoadableHubProtocol {
  readonly name = "messagepack";
  readonly version = 2;
  readonly transferFormat = TransferFormat.Binary;
  private inner: IHubProtocol | null = null;

  async ready(): Promise<void> {
    if (this.inner) return;
    const { MessagePackHubProtocol } = await import("@microsoft/signalr-protocol-msgpack");
    // A field left undefined is left out, as JSON.stringify does, so both protocols send the same values.
    this.inner = new MessagePackHubProtocol({ ignoreUndefined: true });
  }

  parseMessages(input: string | ArrayBuffer, logger: ILogger): HubMessage[] {
    return this.loaded().parseMessages(input, logger);
  }

  writeMessage(message: HubMessage): string | ArrayBuffer {
    // SignalR's HubConnection writes its ping once, when it is built: the protocol's fixed bytes,
    // [6] framed with its length (the MessagePack hub protocol's own example).
    if (message.type === MessageType.Ping) return new Uint8Array([0x02, 0x91, 0x06]).buffer;
    return this.loaded().writeMessage(message);
  }

  private loaded(): IHubProtocol {
    if (!this.inner) throw new Error("The MessagePack protocol is used before the client started.");
    return this.inner;
  }
}

export function hubProtocol(protocol: RealtimeProtocol): LoadableHubProtocol {
  if (protocol === "json") return new JsonProtocol();
  if (protocol === "messagepack") return new MessagePackProtocol();
  throw new TypeError(`protocol must be "json" or "messagepack", not ${String(protocol)}`);
}
