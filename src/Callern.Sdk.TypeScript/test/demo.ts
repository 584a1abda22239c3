// The demo school of the platform that ./test.sh starts; CALLERN_DEMO points at its demo.json.
import { readFileSync } from "node:fs";
import { CallernApi } from "../src/index.js";

export interface Demo {
  baseUrl: string;
  apiKeyId: string;
  apiKeySecret: string;
  /** The platform's operator key, which creates schools. */
  operatorKey: string;
}

export function demo(): Demo {
  const path = process.env.CALLERN_DEMO;
  if (!path) throw new Error("CALLERN_DEMO is not set: run these tests through ./test.sh, which starts the platform.");
  return JSON.parse(readFileSync(path, "utf8")) as Demo;
}

/** What a school's backend does: trade the API key (HTTP Basic) for a user's access token; the demo school's key unless another is given. */
export async function issueToken(
  userId: string,
  role: string,
  ttlSeconds = 600,
  key: { apiKeyId: string; apiKeySecret: string } = demo(),
): Promise<{ accessToken: string; expiresAt: string }> {
  const { baseUrl } = demo();
  const { apiKeyId, apiKeySecret } = key;
  const basic = Buffer.from(`${apiKeyId}:${apiKeySecret}`).toString("base64");
  const tokens = new CallernApi(baseUrl, {
    fetch: (url: RequestInfo, init?: RequestInit) =>
      fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), Authorization: `Basic ${basic}` } }),
  });
  return tokens.issueAccessToken({ userId, role, name: undefined, ttlSeconds });
}

export async function mintToken(userId: string, role: string): Promise<string> {
  return (await issueToken(userId, role)).accessToken;
}
