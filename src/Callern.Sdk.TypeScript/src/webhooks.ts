/**
 * Why a webhook request was refused (answer it with `400`):
 * - `missing_header`: `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing or empty.
 * - `invalid_timestamp`: `webhook-timestamp` is not a whole number of unix seconds.
 * - `timestamp_too_old`: signed longer ago than the tolerance: a replay, or a delivery held up too long.
 * - `timestamp_in_future`: claims to be signed later than now plus the tolerance.
 * - `invalid_signature`: no `v1` signature in the header matches the request under any secret.
 * - `invalid_body`: the signature is valid but the body is not an event envelope.
 */
export type WebhookVerificationErrorCode =
  | "missing_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_in_future"
  | "invalid_signature"
  | "invalid_body";

/** A webhook request that must not be trusted or could not be read; branch on `code`, never on the message. */
export class WebhookVerificationError extends Error {
  /** Creates the error; `cause` is the JSON parser's error for `invalid_body`, when there is one. */
  constructor(
    /** Why the request was refused. */
    readonly code: WebhookVerificationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "WebhookVerificationError";
  }
}

/** The envelope of every webhook the platform sends, as {@link verifyWebhook} returns it. */
export interface WebhookEvent {
  /** The event's id (also the `webhook-id` header). A redelivery carries the same id: act on each id once. */
  id: string;
  /** What happened, for example `call.ended`. */
  type: string;
  /** When it happened on the platform, ISO 8601. */
  timestamp: string;
  /** The school the event belongs to. */
  tenantId: string;
  /** What the event is about, as `kind:id` (for example `call:0195…`). */
  subject: string;
  /**
   * The event's number among its subject's events: 1 for the first, without gaps, so a receiver
   * can tell a late or missing delivery from a new one.
   */
  sequence: number;
  /** The event's own fields; their shape depends on `type`. */
  data: Record<string, unknown>;
}

/** A webhook request to verify, and the secrets to verify it with. */
export interface VerifyWebhookOptions {
  /** The raw request body, exactly as received (never JSON parsed and written again). */
  body: string;
  /**
   * The request's headers: a fetch `Headers`, or a record such as Node's `IncomingMessage.headers`,
   * whose names are matched case-insensitively. A header given as an array (sent more than once)
   * reads as its values joined by a space.
   */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The endpoint's secrets (`whsec_…`): one, or two during a rotation; any of them may match. */
  secrets: string[];
  /** How far the signing time may be from now, either way; default 300 (5 minutes). */
  toleranceSeconds?: number;
  /** The clock, in milliseconds since the epoch; default `Date.now`. */
  now?: () => number;
}

const secretPrefix = "whsec_";
const signatureVersion = "v1,";
const defaultToleranceSeconds = 300;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Verifies one of the platform's webhooks (the Standard Webhooks scheme) and returns its event.
 * The platform signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under the
 * endpoint's secret and sends `v1,<base64>` in `webhook-signature`, one entry per secret while a
 * secret is being rotated; the request passes when any `v1` entry matches any of `secrets`.
 * Uses WebCrypto, so it runs in Node 20+, browsers and edge runtimes alike.
 *
 * Rejects with {@link WebhookVerificationError} for a request that is not authentic, too old or
 * too new, or not an event; with `TypeError` when `secrets` is empty or a secret is not `whsec_`
 * followed by base64, and with `RangeError` for a negative tolerance.
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<WebhookEvent> {
  const keys = secretKeys(options.secrets);
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  if (!(tolerance >= 0)) throw new RangeError("toleranceSeconds must be zero or more");
  const id = required(options.headers, "webhook-id");
  const timestamp = required(options.headers, "webhook-timestamp");
  const signature = required(options.headers, "webhook-signature");
  checkTimestamp(timestamp, tolerance, (options.now ?? Date.now)());
  await checkSignature(keys, new TextEncoder().encode(`${id}.${timestamp}.${options.body}`), signature);
  return readEnvelope(options.body);
}

function secretKeys(secrets: string[]): Uint8Array<ArrayBuffer>[] {
  if (secrets.length === 0) throw new TypeError("at least one webhook secret is needed");
  return secrets.map((secret) => {
    const key = secret.startsWith(secretPrefix) ? decodeBase64(secret.slice(secretPrefix.length)) : undefined;
    if (!key?.length) throw new TypeError(`a webhook secret is ${secretPrefix} followed by its key in base64`);
    return key;
  });
}

function required(headers: VerifyWebhookOptions["headers"], name: string): string {
  const value = header(headers, name);
  if (!value?.trim()) throw new WebhookVerificationError("missing_header", `the ${name} header is missing`);
  return value;
}

function header(headers: VerifyWebhookOptions["headers"], name: string): string | undefined {
  if (isHeaders(headers)) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value.join(" ") : value;
}

/** By shape rather than instanceof, so a Headers from another realm or a fetch polyfill is one too. */
function isHeaders(headers: VerifyWebhookOptions["headers"]): headers is Headers {
  return typeof headers.get === "function";
}

function checkTimestamp(timestamp: string, toleranceSeconds: number, nowMs: number): void {
  const sent = /^\d+$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isSafeInteger(sent)) {
    throw new WebhookVerificationError("invalid_timestamp", "the webhook-timestamp header is not unix seconds");
  }
  // Whole seconds on both sides, as the header has them.
  const age = Math.floor(nowMs / 1000) - sent;
  if (age > toleranceSeconds) {
    throw new WebhookVerificationError("timestamp_too_old", `the request was signed ${age} s ago, more than the tolerance`);
  }
  if (-age > toleranceSeconds) {
    throw new WebhookVerificationError("timestamp_in_future", `the request claims to be signed ${-age} s from now, more than the tolerance`);
  }
}

async function checkSignature(keys: Uint8Array<ArrayBuffer>[], content: Uint8Array<ArrayBuffer>, header: string): Promise<void> {
  const expected = await Promise.all(
    keys.map(async (raw) => {
      const key = await globalThis.crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", key, content));
    }),
  );
  for (const entry of header.split(" ")) {
    // Other versions are for other verifiers; an entry that is not base64 matches nothing.
    if (!entry.startsWith(signatureVersion)) continue;
    const given = decodeBase64(entry.slice(signatureVersion.length));
    if (given && expected.some((signature) => equalInConstantTime(signature, given))) return;
  }
  throw new WebhookVerificationError("invalid_signature", "no v1 signature of the request matches a webhook secret");
}

/** Strict base64 (padded, no whitespace) to bytes, or undefined; atob alone would accept more. */
function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!base64.test(text)) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Compares every byte whatever the first difference, so the time taken tells nothing about the signature. */
function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

function readEnvelope(body: string): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new WebhookVerificationError("invalid_body", "the body is not a webhook event envelope", { cause: error });
  }
  if (!isEnvelope(parsed)) throw new WebhookVerificationError("invalid_body", "the body is not a webhook event envelope");
  const { id, type, timestamp, tenantId, subject, sequence, data } = parsed;
  return { id, type, timestamp, tenantId, subject, sequence, data };
}

/** Every field present with its type: a missing or null one makes the body invalid, not an event with holes. */
function isEnvelope(value: unknown): value is WebhookEvent {
  if (!isObject(value)) return false;
  const { id, type, timestamp, tenantId, subject, sequence, data } = value;
  return (
    typeof id === "string" && id !== "" &&
    typeof type === "string" && type !== "" &&
    typeof timestamp === "string" && isoTimestamp.test(timestamp) && !Number.isNaN(Date.parse(timestamp)) &&
    typeof tenantId === "string" &&
    typeof subject === "string" &&
    typeof sequence === "number" && Number.isSafeInteger(sequence) && sequence >= 1 &&
    isObject(data)
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
