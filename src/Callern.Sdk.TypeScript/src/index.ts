/**
 * Callern TypeScript SDK.
 *
 * The REST client ({@link CallernApi}) is generated from the platform's OpenAPI document by the
 * .NET build (`dotnet build src/Callern.Sdk`); {@link createCallernApi} wires it to an access token.
 * {@link CallSession} is one participant's side of a WebRTC call; {@link PreCallCheck} tests
 * devices and TURN before one. {@link CallernRealtime} is the hub client: call events, and per call a
 * {@link CallRoom} that carries a CallSession's signaling, chat, whiteboard and files. On a school's
 * server, {@link verifyWebhook} checks and reads the platform's webhooks.
 */
export * from "./generated/api.js";
export * from "./adaptive-quality.js";
export * from "./call-session.js";
export * from "./call-warmup.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./perfect-negotiation.js";
export { PlatformAccessError, type PlatformAccessErrorCode } from "./platform-access.js";
export * from "./pre-call-check.js";
export * from "./realtime/index.js";
// These names are also generated; the SDK's own declarations shadow them: whiteboard data typed by
// kind (generated: untyped), and the media state CallSession reports (the same fields).
export type { RoomState, Whiteboard, WhiteboardOperation, WhiteboardOperationInput } from "./realtime/types.js";
export type { MediaState } from "./signaling.js";
export * from "./signaling.js";
export * from "./stats.js";
export * from "./webhooks.js";
import { CallernApi } from "./generated/api.js";
import { fetchPlatform } from "./platform-access.js";

/** Where the platform is and how to authenticate to it. */
export interface CallernApiOptions {
  /** The platform's base URL, for example `https://callern.school.example`. */
  baseUrl: string;
  /**
   * Returns the current access token (minted by the school's backend). Called before every
   * request, so a refreshed token is picked up without recreating the client.
   */
  accessToken: () => string | Promise<string>;
  /** A fetch implementation; defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Creates a REST client that sends `Authorization: Bearer <token>` on every request. A request the
 * platform refused for this page's origin rejects with {@link PlatformAccessError} code
 * `origin_not_allowed`, and one that could not reach the platform with code `unreachable`.
 */
export function createCallernApi(options: CallernApiOptions): CallernApi {
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  return new CallernApi(baseUrl, {
    async fetch(url: RequestInfo, init?: RequestInit): Promise<Response> {
      const headers = new Headers(init?.headers);
      headers.set("Authorization", `Bearer ${await options.accessToken()}`);
      return fetchPlatform(baseUrl, baseFetch, url, { ...init, headers });
    },
  });
}
