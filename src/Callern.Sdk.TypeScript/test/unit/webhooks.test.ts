// verifyWebhook against requests signed here with node:crypto (the Standard Webhooks scheme written
// out, not the SDK's WebCrypto code), and against the scheme's published vector.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyWebhook, WebhookVerificationError, type VerifyWebhookOptions } from "../../src/index.js";

const secret = "whsec_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ==";
const otherSecret = "whsec_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LXR3bw==";
const id = "0195d3a0-7c2e-7b4f-9a61-3f0e8c1d2b4a";
const now = 1_760_000_000;
// Spaces and key order as a server might write them: the signature covers these exact characters.
const body = `{"id":"0195d3a0-7c2e-7b4f-9a61-3f0e8c1d2b4a", "type":"call.ended","timestamp":"2025-10-09T08:53:20.123Z",
 "tenantId":"school-1","subject":"call:0195d39f-1111-7000-8000-000000000001","sequence":3,
 "data":{"reason":"hangup","billedSeconds":312}}`;

/** The `webhook-signature` entry for a request, computed from the scheme's definition. */
function sign(whsec: string, msgId: string, timestamp: number, content: string): string {
  const key = Buffer.from(whsec.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${msgId}.${timestamp}.${content}`).digest("base64")}`;
}

/** A request signed with `secret` at `now`, verified with `secret` at `now`, unless overridden. */
function verify(overrides: Partial<VerifyWebhookOptions> = {}, headers: Record<string, string | undefined> = {}) {
  return verifyWebhook({
    body,
    secrets: [secret],
    now: () => now * 1000,
    headers: { "webhook-id": id, "webhook-timestamp": String(now), "webhook-signature": sign(secret, id, now, body), ...headers },
    ...overrides,
  });
}

/** The code the verification rejected with; fails the test when it resolved or threw something else. */
async function refusal(verification: Promise<unknown>): Promise<string> {
  const error = await verification.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookVerificationError);
  expect((error as WebhookVerificationError).name).toBe("WebhookVerificationError");
  return (error as WebhookVerificationError).code;
}

describe("verifyWebhook", () => {
  it("passes the Standard Webhooks vector's signature check", async () => {
    // The spec's vector is signed correctly but its body is no event envelope: invalid_body (read
    // only after the signature is accepted), where one changed character gives invalid_signature.
    const vector = (content: string) =>
      verifyWebhook({
        body: content,
        secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        now: () => 1614265330_000,
        headers: {
          "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
          "webhook-timestamp": "1614265330",
          "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
      });

    expect([await refusal(vector(`{"test": 2432232314}`)), await refusal(vector(`{"test": 3432232314}`))]).toEqual(["invalid_body", "invalid_signature"]);
  });

  it("returns a signed event's envelope", async () => {
    const event = await verify();

    expect(event).toEqual({
      id,
      type: "call.ended",
      timestamp: "2025-10-09T08:53:20.123Z",
      tenantId: "school-1",
      subject: "call:0195d39f-1111-7000-8000-000000000001",
      sequence: 3,
      data: { reason: "hangup", billedSeconds: 312 },
    });
  });

  it("reads fetch Headers and a record's header names case-insensitively, and a repeated signature header", async () => {
    const signature = sign(secret, id, now, body);
    const fetchHeaders = new Headers({ "Webhook-Id": id, "Webhook-Timestamp": String(now), "Webhook-Signature": signature });
    const record = { "WEBHOOK-ID": id, "Webhook-Timestamp": String(now), "webhook-signature": ["v2,AAAA", signature] };

    const events = await Promise.all([verify({ headers: fetchHeaders }), verify({ headers: record })]);

    expect(events.map((e) => e.id)).toEqual([id, id]);
  });

  it("refuses a body changed after signing", async () => {
    expect(await refusal(verify({ body: body.replace("312", "3120") }))).toBe("invalid_signature");
  });

  it("refuses a changed id or timestamp", async () => {
    const codes = [
      await refusal(verify({}, { "webhook-id": "0195d3a0-7c2e-7b4f-9a61-3f0e8c1d2b4b" })),
      await refusal(verify({}, { "webhook-timestamp": String(now - 1) })),
    ];

    expect(codes).toEqual(["invalid_signature", "invalid_signature"]);
  });

  it("refuses a request signed with another secret", async () => {
    expect(await refusal(verify({}, { "webhook-signature": sign(otherSecret, id, now, body) }))).toBe("invalid_signature");
  });

  it("refuses a request signed longer ago than the tolerance and passes one at the tolerance", async () => {
    const at = (t: number) => verify({ toleranceSeconds: 120 }, { "webhook-timestamp": String(t), "webhook-signature": sign(secret, id, t, body) });

    expect((await at(now - 120)).id).toBe(id);
    expect(await refusal(at(now - 121))).toBe("timestamp_too_old");
  });

  it("refuses a replay of a valid request once the default tolerance has passed", async () => {
    expect((await verify({ now: () => (now + 300) * 1000 + 999 })).id).toBe(id);
    expect(await refusal(verify({ now: () => (now + 301) * 1000 }))).toBe("timestamp_too_old");
  });

  it("refuses a request signed in the future beyond the tolerance", async () => {
    const later = now + 301;

    expect(await refusal(verify({}, { "webhook-timestamp": String(later), "webhook-signature": sign(secret, id, later, body) }))).toBe("timestamp_in_future");
  });

  it.each(["soon", "-1760000000", "1760000000.5", "99999999999999999999", " 1760000000"])("refuses the timestamp %j, which is not unix seconds", async (timestamp) => {
    expect(await refusal(verify({}, { "webhook-timestamp": timestamp }))).toBe("invalid_timestamp");
  });

  it.each([
    ["webhook-id", undefined],
    ["webhook-timestamp", undefined],
    ["webhook-signature", undefined],
    ["webhook-id", ""],
    ["webhook-signature", " "],
  ])("refuses a request whose %s header is %j", async (name, value) => {
    expect(await refusal(verify({}, { [name]: value }))).toBe("missing_header");
  });

  it("ignores entries of other versions beside a valid v1 signature", async () => {
    const valid = sign(secret, id, now, body);
    const signatureOnly = valid.slice(3);

    expect((await verify({}, { "webhook-signature": `v1a,${signatureOnly} v2,AAAA v1,not-base64 ${valid}` })).id).toBe(id);
    expect(await refusal(verify({}, { "webhook-signature": `v1a,${signatureOnly} v2,${signatureOnly}` }))).toBe("invalid_signature");
  });

  it("accepts either secret during a rotation, and either of two signatures", async () => {
    const byOld = sign(secret, id, now, body);
    const byNew = sign(otherSecret, id, now, body);

    const events = await Promise.all([
      ...[byOld, byNew, `${byOld} ${byNew}`].map((s) => verify({ secrets: [secret, otherSecret] }, { "webhook-signature": s })),
      verify({ secrets: [otherSecret] }, { "webhook-signature": `${byOld} ${byNew}` }),
    ]);

    expect(events.map((e) => e.id)).toEqual([id, id, id, id]);
  });

  it.each([
    `not json`,
    `[1, 2]`,
    `{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":1}`,
    `{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":null,"subject":"call:1","sequence":1,"data":{}}`,
    `{"id":"e1","type":"call.ended","timestamp":"yesterday","tenantId":"school-1","subject":"call:1","sequence":1,"data":{}}`,
    `{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":0,"data":{}}`,
    `{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":1,"data":[]}`,
    `{"id":"","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":1,"data":{}}`,
  ])("refuses the signed body %s, which is not an envelope", async (content) => {
    expect(await refusal(verify({ body: content }, { "webhook-signature": sign(secret, id, now, content) }))).toBe("invalid_body");
  });

  it("reads an envelope with fields added later, returning the envelope's own", async () => {
    const content = body.replace(`"sequence":3,`, `"sequence":3,"attempt":2,`);

    const event = await verify({ body: content }, { "webhook-signature": sign(secret, id, now, content) });

    expect(Object.keys(event).sort()).toEqual(["data", "id", "sequence", "subject", "tenantId", "timestamp", "type"]);
  });

  it.each([
    "Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ==",
    "whsec_not base64!",
    "whsec_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ",
    "whsec_",
    "WHSEC_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ==",
  ])("rejects the malformed secret %j with a TypeError", async (malformed) => {
    await expect(verify({ secrets: [secret, malformed] })).rejects.toThrow(TypeError);
  });

  it("rejects an empty list of secrets with a TypeError and a negative tolerance with a RangeError", async () => {
    await expect(verify({ secrets: [] })).rejects.toThrow(TypeError);
    await expect(verify({ toleranceSeconds: -1 })).rejects.toThrow(RangeError);
  });
});
