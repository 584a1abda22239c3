// The platform's webhooks, received by a Node HTTP server and checked with verifyWebhook: what a
// school's backend in TypeScript does. Runs against the platform ./test.sh starts (CALLERN_DEMO).
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createCallernApi, verifyWebhook } from "../src/index.js";
import { demo, mintToken } from "./demo.js";

describe("webhooks from the running platform", () => {
  it("are signed so that verifyWebhook accepts them, and refuses them tampered", async () => {
    const received: { body: string; headers: IncomingHttpHeaders }[] = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: request.headers });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((listening) => receiver.listen(0, "127.0.0.1", listening));
    const school = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("school-backend", "service") });
    const admin = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("admin-1", "admin") });
    const { endpoint, secret } = await school.createWebhookEndpoint({
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
      events: ["wallet.adjustment"],
      description: "TypeScript SDK test",
    });
    try {
      const adjustment = await admin.adjustWallet("student-mia", crypto.randomUUID(), { seconds: 60, reason: "webhook test" });
      await expect.poll(() => received.length, { timeout: 10_000 }).toBe(1);
      const [delivery] = received;

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
