// Infrastructure for the real-browser suite: a throwaway coturn, TURN REST credentials, a
// static server for the page and the SDK build, and Chromium processes driven by playwright-core.
import { execFile } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { connect as tcpConnect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve } from "node:path";
import { promisify } from "node:util";
import { createSocket } from "node:dgram";
import { chromium, type Browser } from "playwright-core";
import ts from "typescript";
import { callSessionSnippet } from "../readme-snippets.js";

const run = promisify(execFile);

export const packageDir = resolve(import.meta.dirname, "../..");
export const repoRoot = resolve(packageDir, "../..");

/** A TURN server the test can hand out credentials for. */
export interface TurnServer {
  url: string;
  secret: string;
  /** Stops it, when the test started it; does nothing for an external one. */
  stop(): Promise<void>;
}

/**
 * coturn's TURN REST scheme (`use-auth-secret`): the username carries the expiry in Unix
 * seconds, the password is base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(server: TurnServer, ttlSeconds = 600): RTCIceServer {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:test`;
  const credential = createHmac("sha1", server.secret).update(username).digest("base64");
  return { urls: [server.url], username, credential };
}

async function portFree(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((done) => {
    const server = createTcpServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((done) => {
    const socket = createSocket("udp4");
    socket.once("error", () => done(false));
    socket.bind(port, "127.0.0.1", () => socket.close(() => done(true)));
  });
}

/**
 * Starts a private coturn with the repository's coturn/start.sh on a random free port block in
 * 20000-31999 (it owns port..port+99: listening port plus relay ports). The block stays below
 * Linux's ephemeral range (32768-60999), where the local end of any outgoing connection could
 * take a relay port that coturn then cannot bind.
 */
export async function startCoturn(): Promise<TurnServer> {
  const runDir = mkdtempSync(join(tmpdir(), "callern-browser-turn-"));
  const secret = randomBytes(18).toString("base64url");
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 120) * 100;
    if (!(await portFree(port)) || !(await portFree(port + 2))) continue;
    try {
      await run("bash", [join(repoRoot, "coturn/start.sh"), runDir, String(port), secret], { cwd: repoRoot });
      return {
        url: `turn:127.0.0.1:${port}?transport=udp`,
        secret,
        async stop() {
          await run("bash", [join(repoRoot, "coturn/stop.sh"), runDir], { cwd: repoRoot });
          rmSync(runDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error; // another process took the port between the check and the start: try another
    }
  }
  rmSync(runDir, { recursive: true, force: true });
  throw new Error(`could not start coturn: ${String(lastError)}`);
}

/** The TURN server named by CALLERN_TEST_TURN_URL and CALLERN_TEST_TURN_SECRET, if both are set. */
export function externalTurnServer(): TurnServer | null {
  const url = process.env.CALLERN_TEST_TURN_URL;
  const secret = process.env.CALLERN_TEST_TURN_SECRET;
  return url && secret ? { url, secret, stop: async () => undefined } : null;
}

const contentTypes: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".map": "application/json" };

/**
 * Serves the test page and the SDK's build output from http://127.0.0.1:<free port>/ (a
 * secure context, so getUserMedia works): `/` and `/harness.js` from test/browser/page,
 * `/sdk/...` from dist/, `/signalr/...` the SignalR client's ESM build (the SDK imports it by
 * name: each page maps the name), `/readme/` runs the README's CallSession snippet.
 */
export interface PageServer {
  url: string;
  /**
   * Cuts the proxied hub WebSockets whose request URL contains `match` as a network drop would
   * (the TCP connections reset, no close frame either way), and holds a new WebSocket matching
   * it back for `holdMs` before passing it on. Returns how many were cut.
   */
  dropWebSockets(match: string, holdMs: number): number;
  /** When each cut and each held-back WebSocket passed on happened (Date.now()). */
  readonly webSocketLog: { event: "dropped" | "reopened"; at: number }[];
  close(): Promise<void>;
}

export async function startPageServer(options: { platform?: string } = {}): Promise<PageServer> {
  const platform = options.platform ? new URL(options.platform) : null;
  const tunnels = new Set<{ url: string; cut(): void }>();
  const holds: { match: string; until: number }[] = [];
  const webSocketLog: PageServer["webSocketLog"] = [];
  const roots: [prefix: string, dir: string][] = [
    ["/sdk/", join(packageDir, "dist")],
    ["/signalr/", join(packageDir, "node_modules/@microsoft/signalr/dist/esm")],
    ["/", join(packageDir, "test/browser/page")],
  ];
  // The README's CallSession snippet as a page, "@callern/sdk" mapped to the build output.
  const readmePage = [
    '<!doctype html><meta charset="utf-8"><title>README snippet</title>',
    '<script type="importmap">{ "imports": { "@callern/sdk": "/sdk/index.js", "@microsoft/signalr": "/signalr/index.js" } }</script>',
    '<script type="module" src="/readme/snippet.js"></script>',
  ].join("\n");
  const readmeScript = ts.transpileModule(callSessionSnippet(), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (platform && isPlatformPath(path)) {
      proxyRequest(platform, request, response);
      return;
    }
    if (path === "/readme/" || path === "/readme/snippet.js") {
      const html = path === "/readme/";
      response.writeHead(200, { "content-type": html ? "text/html" : "text/javascript", "cache-control": "no-store" });
      response.end(html ? readmePage : readmeScript);
      return;
    }
    const [prefix, dir] = roots.find(([p]) => path.startsWith(p)) ?? ["/", ""];
    // SignalR's ESM build imports its modules without the .js extension, as bundlers resolve them.
    const name = path.slice(prefix.length) || "index.html";
    const file = normalize(join(dir, extname(name) ? name : `${name}.js`));
    try {
      if (!file.startsWith(dir)) throw new Error("outside the served folder");
      const body = readFileSync(file);
      response.writeHead(200, { "content-type": contentTypes[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  if (platform) {
    server.on("upgrade", (request, socket, head) => {
      const url = request.url ?? "";
      const hold = holds.find((h) => url.includes(h.match) && h.until > Date.now());
      const pass = () => {
        if (hold) webSocketLog.push({ event: "reopened", at: Date.now() });
        const tunnel = { url, cut: proxyUpgrade(platform, request, socket, head, () => tunnels.delete(tunnel)) };
        tunnels.add(tunnel);
      };
      if (hold) setTimeout(pass, hold.until - Date.now());
      else pass();
    });
  }
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no server address");
  return {
    url: `http://127.0.0.1:${address.port}/`,
    dropWebSockets(match, holdMs) {
      holds.push({ match, until: Date.now() + holdMs });
      const cut = [...tunnels].filter((t) => t.url.includes(match));
      for (const tunnel of cut) tunnel.cut();
      webSocketLog.push({ event: "dropped", at: Date.now() });
      return cut.length;
    },
    webSocketLog,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** The platform's REST API and hub, which the page server passes on so that pages call them on their own origin (no CORS). */
function isPlatformPath(path: string): boolean {
  return path.startsWith("/v1/") || path.startsWith("/hubs/");
}

/**
 * The request's headers for the platform: its own Host, and no Origin (a server-side caller,
 * as a school's backend would be; the test pages' random origins are not the school's).
 */
function forwardedHeaders(platform: URL, headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { origin: _origin, referer: _referer, ...rest } = headers;
  return { ...rest, host: platform.host };
}

function proxyRequest(platform: URL, request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse): void {
  const upstream = httpRequest(
    { host: platform.hostname, port: platform.port, method: request.method, path: request.url, headers: forwardedHeaders(platform, request.headers) },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on("error", () => response.writeHead(502).end());
  request.pipe(upstream);
}

/** Tunnels a WebSocket upgrade to the platform; returns what cuts the tunnel like a network drop (a reset, no close frame). */
function proxyUpgrade(
  platform: URL,
  request: import("node:http").IncomingMessage,
  socket: import("node:stream").Duplex,
  head: Buffer,
  closed: () => void,
): () => void {
  const upstream = tcpConnect(Number(platform.port), platform.hostname, () => {
    const headers = forwardedHeaders(platform, request.headers);
    const lines = [`${request.method} ${request.url} HTTP/1.1`];
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
    }
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  const close = () => {
    upstream.destroy();
    socket.destroy();
    closed();
  };
  upstream.on("error", close);
  upstream.on("close", close);
  socket.on("error", close);
  socket.on("close", close);
  return () => {
    upstream.resetAndDestroy();
    (socket as import("node:net").Socket).resetAndDestroy?.();
    close();
  };
}

/**
 * One Chromium process (Debian's, never a downloaded build) with a fresh profile, fake camera
 * and microphone, and permission prompts (getUserMedia, getDisplayMedia) accepted.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Three fake cameras, so device switching has somewhere to go. Chromium makes the second
      // one a Y16 depth camera, whose frames WebRTC does not send; the third is a plain one.
      "--use-fake-device-for-media-stream=device-count=3",
      "--use-fake-ui-for-media-stream",
      // The pre-call check's level meter runs an AudioContext without a click.
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

/**
 * A page in a real browser, driven the same way whether it is Chromium (playwright-core) or
 * Firefox (puppeteer-core over WebDriver BiDi).
 */
export interface BrowserPage {
  readonly browserName: "chromium" | "firefox";
  /** Runs `fn(arg)` in the page and returns its (JSON) result. */
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** Errors thrown in the page that nothing caught. */
  readonly pageErrors: string[];
  close(): Promise<void>;
}

/** A Chromium process (Debian's) with one page. */
export async function openChromiumPage(): Promise<BrowserPage> {
  const browser = await launchChromium();
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  return {
    browserName: "chromium",
    // The page's types and the driver's serialized ones differ only nominally; the pages pass JSON.
    evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg: A) => page.evaluate(fn as (arg: unknown) => R | Promise<R>, arg as unknown),
    goto: async (url) => {
      await page.goto(url);
    },
    reload: async () => {
      await page.reload();
    },
    pageErrors,
    close: () => browser.close(),
  };
}

/** A Firefox ESR process (Debian's) with one page, fake camera and microphone, no permission prompts. */
export async function openFirefoxPage(): Promise<BrowserPage> {
  const puppeteer = (await import("puppeteer-core")).default;
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: "/usr/bin/firefox-esr",
    headless: true,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true,
      "media.navigator.permission.disabled": true,
      "media.autoplay.default": 0,
      // The test's coturn relays on 127.0.0.1; Firefox leaves loopback addresses out of ICE unless told.
      "media.peerconnection.ice.loopback": true,
    },
  });
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error instanceof Error ? error.message : String(error)));
  return {
    browserName: "firefox",
    evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg: A) => page.evaluate(fn as (arg: unknown) => Promise<R>, arg as unknown) as Promise<R>,
    goto: async (url) => {
      await page.goto(url);
    },
    reload: async () => {
      await page.reload();
    },
    pageErrors,
    close: () => browser.close(),
  };
}
