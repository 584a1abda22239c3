// The platform's webhooks, received by a Node HTTP server and checked with verifyWebhook: what a
// school's backend in TypeScript does. Runs against the platform ./test.sh starts (CALLERN_DEMO).
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { type CallAcceptedEvent, CallernRealtime, createCallernApi, type IncomingCallEvent, verifyWebhook, type WebhookEvent } from "../src/index.js";
import { demo, mintToken } from "./demo.js";

/** A receiver on a Node HTTP server: every request's raw body and headers. */
async function startReceiver() {
  const received: { body: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: request.headers });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, close: () => server.close() };
}

describe("webhooks from the running platform", () => {
  it("carry a call from request to rating, in order and numbered without gaps, and verifyWebhook accepts each", async () => {
    const receiver = await startReceiver();
    const school = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("school-backend", "service") });
    const { endpoint, secret } = await school.createWebhookEndpoint({
      url: receiver.url,
      events: ["call.requested", "call.ringing", "call.accepted", "call.connected", "call.ended", "call.rated"],
    });
    const teacher = new CallernRealtime({ baseUrl: demo().baseUrl, accessToken: () => mintToken("teacher-diego", "teacher") });
    const student = new CallernRealtime({ baseUrl: demo().baseUrl, accessToken: () => mintToken("student-lea", "student") });
    try {
      await Promise.all([teacher.start(), student.start()]);
      await teacher.setAvailability("available");
      const incoming = new Promise<IncomingCallEvent>((resolve) => teacher.on("incomingCall", resolve));
      const accepted = new Promise<CallAcceptedEvent>((resolve) => student.on("callAccepted", resolve));
      const call = await student.requestCall({ language: "es", level: "A2", preferredTeachers: ["teacher-diego"] });
      await teacher.acceptOffer((await incoming).offerId);
      await accepted;
      await student.room(call.id).confirmMedia({ inboundBytes: 40_000, sampledAt: Date.now() });
      await teacher.room(call.id).confirmMedia({ inboundBytes: 40_000, sampledAt: Date.now() });
      await student.endCall(call.id);
      await createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("student-lea", "student") }).rateCall(call.id, { stars: 4 });

      // Other tests' calls run meanwhile in this school: only this call's events are counted.
      const ours = (): typeof receiver.received => receiver.received.filter((r) => r.body.includes(`"subject":"call:${call.id}"`));
      await expect.poll(() => ours().length, { timeout: 10_000 }).toBe(6);
      const events: WebhookEvent[] = [];
      for (const delivery of ours()) events.push(await verifyWebhook({ body: delivery.body, headers: delivery.headers, secrets: [secret] }));
      expect(events.map((e) => [e.type, e.sequence])).toEqual([
        ["call.requested", 1], ["call.ringing", 2], ["call.accepted", 3], ["call.connected", 4], ["call.ended", 5], ["call.rated", 6],
      ]);
      expect(events[5]!.data).toMatchObject({ callId: call.id, studentId: "student-lea", teacherId: "teacher-diego", stars: 4 });
    } finally {
      await teacher.setAvailability("offline").catch(() => undefined);
      await Promise.all([teacher.stop(), student.stop()]);
      await school.deleteWebhookEndpoint(endpoint.id);
      receiver.close();
    }
  });


  it("are signed so that verifyWebhook accepts them, and refuses them tampered", async () => {
    const receiver = await startReceiver();
    const school = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("school-backend", "service") });
    const admin = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("admin-1", "admin") });
    const { endpoint, secret } = await school.createWebhookEndpoint({
      url: receiver.url,
      events: ["wallet.adjustment"],
      description: "TypeScript SDK test",
    });
    try {
      const adjustment = await admin.adjustWallet("student-mia", crypto.randomUUID(), { seconds: 60, reason: "webhook test" });
      await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(1);
      const [delivery] = receiver.received;

      const event = await verifyWebhook({ body: delivery!.body, headers: delivery!.headers, secrets: [secret] });
      expect(event).toMatchObject({ type: "wallet.adjustment", subject: "wallet:student-mia", data: { id: adjustment.id, seconds: 60 } });
      expect(event.id).toBe(delivery!.headers["webhook-id"]);
      const tampered = verifyWebhook({ body: delivery!.body.replace("webhook test", "tampered"), headers: delivery!.headers, secrets: [secret] });
      await expect(tampered).rejects.toMatchObject({ name: "WebhookVerificationError", code: "invalid_signature" });
    } finally {
      await school.deleteWebhookEndpoint(endpoint.id);
      receiver.close();
    }
  });
});
