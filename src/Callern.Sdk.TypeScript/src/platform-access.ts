/**
 * Why a page could not talk to the platform:
 * - `origin_not_allowed`: the platform is up but does not accept this page's origin for the
 *   user's school; the school's admin adds it (`POST /v1/settings/origins`).
 * - `unreachable`: the platform could not be reached (down, wrong `baseUrl`, network).
 */
export type PlatformAccessErrorCode = "origin_not_allowed" | "unreachable";

/** A request that never got an answer the page may read; branch on `code`, never on the message. */
export class PlatformAccessError extends Error {
  /** Creates the error; `cause` is the browser's original error or the refused response. */
  constructor(
    /** `origin_not_allowed` or `unreachable`. */
    readonly code: PlatformAccessErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PlatformAccessError";
  }
}

const probeTimeoutMs = 5_000;

/** The refusal's code in the platform's problem details, on every refused request from a page. */
export const originNotAllowed = "origin_not_allowed";

/**
 * Why a request from this page failed without a readable answer. A browser hides a CORS refusal
 * behind the same `TypeError` as a platform that is down, so the SDK asks the platform's public
 * origin probe (`GET /v1/origin-check`, which answers every origin): no answer means unreachable;
 * an answer that this origin is known to no school means origin_not_allowed.
 */
export async function diagnose(baseUrl: string, cause: unknown, fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): Promise<PlatformAccessError> {
  let known: boolean | undefined;
  try {
    // Bounded: a platform that hangs must not hold the app's error for long.
    const probe = await fetchImpl(`${baseUrl}/v1/origin-check`, { credentials: "omit", signal: AbortSignal.timeout(probeTimeoutMs) });
    known = probe.ok ? ((await probe.json()) as { known?: boolean }).known : undefined;
  } catch {
    return new PlatformAccessError("unreachable", `the platform at ${baseUrl} could not be reached`, { cause });
  }
  return known === false
    ? new PlatformAccessError(originNotAllowed, `the platform at ${baseUrl} does not accept this page's origin`, { cause })
    : new PlatformAccessError("unreachable", `the platform at ${baseUrl} answered its probe but not the request`, { cause });
}

/**
 * `fetch` for the platform's REST API from a page: a refused origin (a readable 403 with
 * `code: origin_not_allowed`, or a CORS refusal) and an unreachable platform reject with a
 * {@link PlatformAccessError}; every other answer is returned as it is.
 */
export async function fetchPlatform(baseUrl: string, fetchImpl: typeof fetch, url: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw await diagnose(baseUrl, error, fetchImpl);
  }
  if (response.status === 403 && (await problemCode(response)) === originNotAllowed) {
    throw new PlatformAccessError(originNotAllowed, `the platform at ${baseUrl} refused this page's origin for the user's school`, { cause: response });
  }
  return response;
}

async function problemCode(response: Response): Promise<string | undefined> {
  try {
    return ((await response.clone().json()) as { code?: string }).code;
  } catch {
    return undefined;
  }
}
