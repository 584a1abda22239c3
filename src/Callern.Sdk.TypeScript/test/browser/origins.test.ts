// Per-school origins in real Chromium: pages served from their own origins call the platform
// directly (CALLERN_DEMO: the platform that ./test.sh starts, which lists no origin of its own).
// A page on a new origin fails with the SDK's origin_not_allowed; the school's admin adds the
// origin through the API; the same page then reads the wallet and connects to the hub, with no
// restart. A page on another school's origin is refused, and an unreachable platform is a
// different error. Run with `npm run test:browser`.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCallernApi } from "../../src/index.js";
import { demo, issueToken } from "../demo.js";
import { openChromiumPage, startPageServer, type BrowserPage, type PageServer } from "./support.js";

type Outcome = { ok: true; availableSeconds?: number; state?: string } | { ok: false; error: { name: string | null; code: string | null; message: string } };

declare global {
  interface Window {
    originHarness: {
      readWallet(baseUrl: string, token: string): Promise<Outcome>;
      connect(baseUrl: string, token: string): Promise<Outcome>;
    };
    originHarnessReady?: boolean;
  }
}

const studentId = "student-ana";
let schoolPages: PageServer;
let otherSchoolPages: PageServer;
let browser: BrowserPage;
let schoolOrigin: string;
let otherSchoolOrigin: string;

const origin = (pages: PageServer) => new URL(pages.url).origin;
const adminApi = async (key?: { apiKeyId: string; apiKeySecret: string }) => {
  const token = (await issueToken("admin-1", "admin", 600, key)).accessToken;
  return createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => token });
};

async function openPage(pages: PageServer): Promise<void> {
  await browser.goto(`${pages.url}origins.html`);
  const deadline = Date.now() + 20_000;
  while (!(await browser.evaluate(() => window.originHarnessReady === true, null))) {
    if (Date.now() > deadline) throw new Error("the origins page did not load");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const readWallet = (baseUrl: string, token: string) => browser.evaluate(([b, t]) => window.originHarness.readWallet(b, t), [baseUrl, token] as const);
const connect = (baseUrl: string, token: string) => browser.evaluate(([b, t]) => window.originHarness.connect(b, t), [baseUrl, token] as const);

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === "string") throw new Error("no address");
  return address.port;
}

beforeAll(async () => {
  [schoolPages, otherSchoolPages, browser] = await Promise.all([startPageServer(), startPageServer(), openChromiumPage()]);
  schoolOrigin = origin(schoolPages);
  otherSchoolOrigin = origin(otherSchoolPages);
}, 60_000);

afterAll(async () => {
  await (await adminApi()).removeAllowedOrigin(schoolOrigin).catch(() => undefined);
  await browser?.close();
  await Promise.all([schoolPages?.close(), otherSchoolPages?.close()]);
});

describe("per-school origins", () => {
  it("refuses a new origin with origin_not_allowed until the school's admin adds it, then signs in, reads the wallet and connects without a restart", async () => {
    const { baseUrl } = demo();
    const token = (await issueToken(studentId, "student", 600)).accessToken;
    await openPage(schoolPages);

    const refusedWallet = await readWallet(baseUrl, token);
    const refusedHub = await connect(baseUrl, token);
    const listed = await (await adminApi()).addAllowedOrigin({ origin: schoolOrigin });
    const wallet = await readWallet(baseUrl, token);
    const hub = await connect(baseUrl, token);

    expect(refusedWallet).toMatchObject({ ok: false, error: { name: "PlatformAccessError", code: "origin_not_allowed" } });
    expect(refusedHub).toMatchObject({ ok: false, error: { name: "RealtimeError", code: "origin_not_allowed" } });
    expect(listed.origins).toContain(schoolOrigin);
    expect(wallet).toMatchObject({ ok: true });
    expect(wallet.ok && wallet.availableSeconds).toBeGreaterThan(0);
    expect(hub).toEqual({ ok: true, state: "connected" });
  });

  it("refuses a page on another school's origin, readably, with origin_not_allowed", async () => {
    const operator = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => demo().operatorKey });
    const other = await operator.createTenant({ name: "Another School" });
    await (await adminApi({ apiKeyId: other.apiKey.keyId, apiKeySecret: other.apiKey.secret })).addAllowedOrigin({ origin: otherSchoolOrigin });
    const token = (await issueToken(studentId, "student", 600)).accessToken;
    await openPage(otherSchoolPages);

    expect(await readWallet(demo().baseUrl, token)).toMatchObject({ ok: false, error: { name: "PlatformAccessError", code: "origin_not_allowed" } });
    expect(await connect(demo().baseUrl, token)).toMatchObject({ ok: false, error: { name: "RealtimeError", code: "origin_not_allowed" } });
  });

  it("tells an unreachable platform apart from a refused origin", async () => {
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    const token = (await issueToken(studentId, "student", 600)).accessToken;
    await openPage(schoolPages);

    expect(await readWallet(nowhere, token)).toMatchObject({ ok: false, error: { name: "PlatformAccessError", code: "unreachable" } });
    expect(await connect(nowhere, token)).toMatchObject({ ok: false, error: { name: "RealtimeError", code: "not_connected" } });
  });
});
