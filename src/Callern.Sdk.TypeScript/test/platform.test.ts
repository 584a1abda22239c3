// Runs against the real platform that ./test.sh starts with the demo school seeded;
// CALLERN_DEMO points at its demo.json (baseUrl, apiKeyId, apiKeySecret).
import { describe, expect, it } from "vitest";
import { CallernApiError, createCallernApi, type HttpValidationProblemDetails } from "../src/index.js";
import { demo, issueToken } from "./demo.js";

async function mintToken(userId: string, role: string): Promise<string> {
  const issued = await issueToken(userId, role);
  expect(new Date(issued.expiresAt).getTime()).toBeGreaterThan(Date.now());
  return issued.accessToken;
}

describe("generated REST client against the running platform", () => {
  it("reads the signed-in student's own profile", async () => {
    const token = await mintToken("student-ana", "student");
    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => token });

    const me = await api.getMe();

    expect(me.role).toBe("student");
    expect(me.student?.displayName).toBe("Ana Souza");
  });

  it("lists the demo school's teachers one page at a time", async () => {
    const token = await mintToken("admin-1", "admin");
    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: async () => token });

    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.listTeachers(cursor, 4, undefined, undefined, undefined);
      ids.push(...page.items.map((t) => t.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    expect(ids.length).toBeGreaterThanOrEqual(6);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("surfaces validation problems with their field errors", async () => {
    const token = await mintToken("admin-1", "admin");
    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => token });

    const failure = await api
      .upsertStudent("student-new", { displayName: "New", timeZone: "Mars/Olympus", targetLanguage: undefined, level: undefined, preferences: undefined, goal: undefined })
      .then(() => undefined, (error: unknown) => error);

    // A documented error response is thrown as its parsed body: an RFC 9457 validation problem.
    expect(failure).toMatchObject({ status: 400, title: "One or more validation errors occurred." });
    expect((failure as HttpValidationProblemDetails).errors).toHaveProperty("timeZone");
    await expect(api.getStudent("student-new")).rejects.toMatchObject({ status: 404 });
  });

  it("hands out ICE servers with a TURN REST credential for the coturn that ./test.sh started", async () => {
    const token = await mintToken("student-ana", "student");
    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => token });

    const ice = await api.getIceServers();

    expect(ice.iceServers).toHaveLength(1);
    const server = ice.iceServers[0]!;
    expect(server.urls.some((url) => url.startsWith("turn:127.0.0.1:"))).toBe(true);
    expect(server.username).toMatch(/^\d{10}:[A-Za-z0-9_-]{16}$/);
    expect(server.username).not.toContain("student-ana");
    expect(Number(server.username.split(":")[0]) * 1000).toBe(new Date(ice.expiresAt).getTime());
    expect(ice.ttl).toBe(3600);
  });

  it("refuses a token that is not signed by a tenant key", async () => {
    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." });
    const failure = await api.getMe().then(() => undefined, (error: unknown) => error);
    expect(CallernApiError.isCallernApiError(failure)).toBe(true);
    expect((failure as CallernApiError).status).toBe(401);
  });
});
