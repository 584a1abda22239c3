// Whole calls through the real platform (CALLERN_DEMO: the demo school of the platform that
// ./test.sh starts) between real browsers, media through the platform's coturn, relay only:
// a Chromium student and a teacher in Chromium, then in Firefox ESR. The pages are what a
// school's apps do with the SDK (test/browser/page/call.js): on `callAccepted` a room and a
// CallSession. Run with `npm run test:browser`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { demo, issueToken } from "../demo.js";
import { openChromiumPage, openFirefoxPage, startPageServer, type BrowserPage, type PageServer } from "./support.js";

interface Recorded {
  name: string;
  at: number;
  detail: Record<string, unknown> | null;
}

/** What test/browser/page/call.js puts on the page. */
interface CallHarness {
  connect(token: string, options?: { rejoinLiveCalls?: boolean; warmUp?: boolean }): Promise<void>;
  setAvailability(status: string): Promise<string>;
  requestCall(request: { language: string; level: string; preferredTeachers: string[] }, options?: { warmUp?: boolean }): Promise<string>;
  accept(offerId: string): Promise<string>;
  endCall(callId: string): Promise<string>;
  stop(): Promise<void>;
  events(name: string): Recorded[];
  sent(callId: string): Record<string, number> | null;
  remoteTracks(callId: string): { source: string; kind: string; readyState: string; muted: boolean }[];
  sendSignal(callId: string, signal: unknown): Promise<void>;
  watchSignals(callId: string): void;
  rejoin(callId: string): Promise<string>;
  sendChat(callId: string, text: string): Promise<number>;
}

declare global {
  interface Window {
    callHarness: CallHarness;
    callHarnessReady?: boolean;
  }
}

/** One participant: its page and who it is on the platform. */
interface Party {
  role: "student" | "teacher";
  userId: string;
  page: BrowserPage;
  token: string;
}

// A student and a teacher no other suite calls: Spanish, which only two demo teachers teach.
const studentId = "student-lea";
const teacherId = "teacher-sofia";
const request = { language: "es", level: "A2", preferredTeachers: [teacherId] };
const callsPerTeacherBrowser = 10;

let pages: PageServer;
let student: Party;
let teacher: Party;
const opened: BrowserPage[] = [];
/** The call a test started, ended after it even when it failed, so the next test can call. */
let liveCallId: string | null = null;
/** accept → two-way media, per call, with the teacher's browser and the steps in between. */
const measured: { call: number; teacherBrowser: string; ms: number; steps: Steps }[] = [];

/**
 * accept → two-way media in steps: the platform tells the student (`callAccepted`), both peer
 * connections are ICE-connected (offer, answer, candidates, TURN, checks), both sides receive
 * media (DTLS, first RTP, first stats read; the first media confirmation goes then), both have
 * two-way media (`mediaConnected`: the peer's `receiving` signal came). Billing starts when the
 * platform has counted both confirmations (`CallConnected`), measured from the accept.
 */
interface Steps {
  accepted: number;
  iceConnected: number;
  receiving: number;
  twoWay: number;
  billing: number;
}

function harness<R, A>(party: Party, fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> {
  return party.page.evaluate(fn, arg);
}

function events(party: Party, name: string, callId?: string): Promise<Recorded[]> {
  return harness(party, ([n, id]) => window.callHarness.events(n).filter((e) => id === null || e.detail?.["callId"] === id), [name, callId ?? null] as const);
}

/** Polls the page until `events(name)` for the call has at least `count` entries. */
async function waitForEvents(party: Party, name: string, callId: string | undefined, count = 1, timeout = 20_000): Promise<Recorded[]> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = await events(party, name, callId);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`${party.role}: no ${count} × ${name} for ${callId ?? "any call"} within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function openParty(role: Party["role"], userId: string, page: BrowserPage, options: { rejoinLiveCalls?: boolean; warmUp?: boolean } = {}): Promise<Party> {
  const token = (await issueToken(userId, role, 3600)).accessToken;
  await page.goto(`${pages.url}call.html`);
  await waitForReady(page);
  await page.evaluate(([t, o]) => window.callHarness.connect(t, o), [token, options] as const);
  return { role, userId, page, token };
}

async function waitForReady(page: BrowserPage): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await page.evaluate(() => window.callHarnessReady === true, null))) {
    if (Date.now() > deadline) throw new Error(`${page.browserName}: the call page did not load`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Rings the teacher, accepts, waits for two-way media on both sides; returns the call and accept → two-way media in ms. */
async function connectCall(): Promise<{ callId: string; acceptToTwoWayMs: number; steps: Steps }> {
  expect(await harness(teacher, (s) => window.callHarness.setAvailability(s), "available")).toBe("available");
  // As the sample apps do: the student warms up (camera, microphone, relay candidates) as it
  // requests, the teacher as the call rings (openParty's warmUp).
  const callId = await harness(student, (r) => window.callHarness.requestCall(r, { warmUp: true }), request);
  liveCallId = callId;
  const [offer] = await waitForEvents(teacher, "incomingCall", callId);
  await harness(teacher, (id) => window.callHarness.accept(id), String(offer?.detail?.["offerId"]));
  const [accepting] = (await events(teacher, "accepting")).filter((e) => e.detail?.["offerId"] === offer?.detail?.["offerId"]);
  const [studentMedia, teacherMedia] = await Promise.all([
    waitForEvents(student, "mediaConnected", callId),
    waitForEvents(teacher, "mediaConnected", callId),
  ]);
  const twoWayAt = Math.max(studentMedia[0]?.at ?? NaN, teacherMedia[0]?.at ?? NaN);
  const acceptAt = accepting?.at ?? NaN;
  const first = async (party: Party, name: string, match: (e: Recorded) => boolean = () => true) =>
    (await events(party, name, callId)).find(match)?.at ?? NaN;
  const both = async (name: string, match?: (e: Recorded) => boolean) => Math.max(await first(student, name, match), await first(teacher, name, match));
  const accepted = await first(student, "callAccepted");
  const iceConnected = await both("connectionState", (e) => e.detail?.["state"] === "connected");
  const receiving = await both("confirming");
  const [billingStarted] = await waitForEvents(student, "callConnected", callId, 1, 10_000);
  return {
    callId,
    acceptToTwoWayMs: twoWayAt - acceptAt,
    steps: {
      accepted: accepted - acceptAt,
      iceConnected: iceConnected - accepted,
      receiving: receiving - iceConnected,
      twoWay: twoWayAt - receiving,
      billing: (billingStarted?.at ?? NaN) - acceptAt,
    },
  };
}

async function endCall(callId: string): Promise<void> {
  expect(await harness(student, (id) => window.callHarness.endCall(id), callId)).toBe("ended");
  await Promise.all([waitForEvents(student, "ended", callId), waitForEvents(teacher, "ended", callId)]);
  liveCallId = null;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

beforeAll(async () => {
  pages = await startPageServer({ platform: demo().baseUrl });
  const [studentPage, teacherPage] = await Promise.all([openChromiumPage(), openChromiumPage()]);
  opened.push(studentPage, teacherPage);
  [student, teacher] = await Promise.all([openParty("student", studentId, studentPage), openParty("teacher", teacherId, teacherPage, { warmUp: true })]);
}, 60_000);

afterEach(async () => {
  if (liveCallId === null) return;
  await student.page.evaluate((id) => window.callHarness.endCall(id), liveCallId).catch(() => undefined);
  liveCallId = null;
});

afterAll(async () => {
  await teacher?.page.evaluate(() => window.callHarness.setAvailability("offline"), null).catch(() => undefined);
  await Promise.all(opened.map((p) => p.close().catch(() => undefined)));
  await pages?.close();
  if (measured.length > 0) {
    const all = measured.map((m) => m.ms);
    const by = (browser: string) => measured.filter((m) => m.teacherBrowser === browser).map((m) => m.ms);
    console.info(
      `accept → two-way media through the relay over ${all.length} calls: p50 ${percentile(all, 50)} ms, max ${Math.max(...all)} ms ` +
        `(Chromium teacher p50 ${percentile(by("chromium"), 50)} ms, max ${Math.max(...by("chromium"))} ms; ` +
        `Firefox teacher p50 ${percentile(by("firefox"), 50)} ms, max ${Math.max(...by("firefox"))} ms); ` +
        `each: ${measured.map((m) => m.ms).join(", ")}`,
    );
    const step = (key: keyof Steps) => percentile(measured.map((m) => m.steps[key]), 50);
    console.info(
      `steps (p50, ms): accept → student's callAccepted (platform) ${step("accepted")}; → both ICE-connected ${step("iceConnected")}; ` +
        `→ both receive media ${step("receiving")}; → both mediaConnected (the peer's receiving signal) ${step("twoWay")}; ` +
        `accept → billing starts (CallConnected) p50 ${step("billing")} ms, max ${Math.max(...measured.map((m) => m.steps.billing))} ms`,
    );
  }
});

describe("calls through the platform between real browsers (coturn, relay only)", () => {
  it(
    `${2 * callsPerTeacherBrowser} calls in a row, half with a Firefox teacher: one offer from the student, no glare, one callAccepted each, two-way media`,
    { timeout: 300_000 },
    async () => {
      for (let call = 1; call <= 2 * callsPerTeacherBrowser; call++) {
        if (call === callsPerTeacherBrowser + 1) {
          // The second half: the teacher's app runs in Firefox.
          await teacher.page.evaluate(() => window.callHarness.stop(), null);
          const firefox = await openFirefoxPage();
          opened.push(firefox);
          teacher = await openParty("teacher", teacherId, firefox, { warmUp: true });
        }
        const { callId, acceptToTwoWayMs, steps } = await connectCall();
        measured.push({ call, teacherBrowser: teacher.page.browserName, ms: acceptToTwoWayMs, steps });

        for (const party of [student, teacher]) {
          // One callAccepted for the call (the teacher also had it as acceptOffer's result), one session.
          expect(await events(party, "callAccepted", callId), `${party.role} in call ${call}`).toHaveLength(1);
          expect(await events(party, "error", callId), `${party.role} in call ${call}`).toEqual([]);
          // The session took over the media warmed up while the call rang.
          expect((await events(party, "started", callId)).map((e) => e.detail?.["fromWarmup"]), `${party.role} in call ${call}`).toEqual([true]);
          // The platform saw both sides' confirmations: the call is connected (two-way media).
          await waitForEvents(party, "callConnected", callId, 1, 10_000);
          // Remote audio and video are live and unmuted (frames arrive), on both browsers.
          const deadline = Date.now() + 10_000;
          let tracks = await harness(party, (id) => window.callHarness.remoteTracks(id), callId);
          while (tracks.filter((t) => t.readyState === "live" && !t.muted).length < 2 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            tracks = await harness(party, (id) => window.callHarness.remoteTracks(id), callId);
          }
          expect(tracks.map((t) => `${t.kind}:${t.readyState}:${t.muted ? "muted" : "unmuted"}`).sort(), `${party.role} (${party.page.browserName}) in call ${call}`).toEqual([
            "audio:live:unmuted",
            "video:live:unmuted",
          ]);
        }
        // No glare: the impolite student made the one offer, the polite teacher only answered.
        const [studentSent, teacherSent] = await Promise.all([
          harness(student, (id) => window.callHarness.sent(id), callId),
          harness(teacher, (id) => window.callHarness.sent(id), callId),
        ]);
        expect({ student: studentSent?.["offer"], teacher: teacherSent?.["offer"] ?? 0, answer: teacherSent?.["answer"] }, `call ${call}`).toEqual({
          student: 1,
          teacher: 0,
          answer: 1,
        });
        await endCall(callId);
      }
      expect(measured).toHaveLength(2 * callsPerTeacherBrowser);
      for (const party of [student, teacher]) expect(party.page.pageErrors).toEqual([]);
    },
  );

  it("a signal sent while the peer's hub connection is reconnecting arrives once (stateful reconnect)", { timeout: 60_000 }, async () => {
    const { callId } = await connectCall();
    await harness(student, (id) => window.callHarness.watchSignals(id), callId);
    const marker = { type: "candidate", candidate: { candidate: "candidate:7 1 udp 1 127.0.0.1 9 typ host", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "sent-during-reconnect" } };

    // The student's network drops (its hub WebSocket reset, no close frame) and its WebSocket
    // reconnect is held back 1.5 s; meanwhile the teacher signals.
    expect(pages.dropWebSockets(student.token, 1_500)).toBe(1);
    await harness(teacher, ([id, s]) => window.callHarness.sendSignal(id, s), [callId, marker] as const);
    const sentAt = Date.now();

    const received = await waitForEvents(student, "watchedSignal", callId, 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // a duplicate would be here by now
    const all = (await events(student, "watchedSignal", callId)).filter((e) => JSON.stringify(e.detail?.["signal"]).includes("sent-during-reconnect"));
    expect(all).toHaveLength(1);
    const reopened = pages.webSocketLog.find((e) => e.event === "reopened");
    expect(reopened?.at).toBeGreaterThan(sentAt); // the signal was sent while the student had no WebSocket
    expect(received[0]?.at).toBeGreaterThanOrEqual(reopened?.at ?? Infinity);
    // The same hub connection went on: no reconnect of the client's own (which would lose messages).
    expect(await events(student, "reconnected")).toEqual([]);
    expect([...(await events(student, "error", callId)), ...(await events(teacher, "error", callId))]).toEqual([]);
    await endCall(callId);
  });

  it("rejoins a live call after the teacher reloads: the student sees reconnecting then back, new peer connection on both sides, media flows again, the room caught up; a rejoin after the end is refused with call_ended", { timeout: 90_000 }, async () => {
    const { callId } = await connectCall();
    expect(await harness(student, ([id, text]) => window.callHarness.sendChat(id, text), [callId, "¿Me oyes?"] as const)).toBe(1);

    // The teacher's page reloads and stays away long enough for its confirmations to lapse:
    // billing pauses and the student's session says "reconnecting".
    await teacher.page.reload();
    await waitForReady(teacher.page);
    const [reconnecting] = await waitForEvents(student, "reconnecting", callId, 1, 20_000);
    expect(reconnecting?.detail?.["graceEndsAt"]).toEqual(expect.any(String));
    expect(await events(student, "back", callId)).toEqual([]);
    await teacher.page.evaluate(([t, o]) => window.callHarness.connect(t, o), [teacher.token, { rejoinLiveCalls: true }] as const);

    // The reloaded page learns of its live call, rejoins it and connects again.
    await waitForEvents(teacher, "liveCall", callId, 1, 15_000);
    await waitForEvents(teacher, "rejoined", callId, 1, 15_000);
    await waitForEvents(teacher, "mediaConnected", callId, 1, 20_000);
    // The reloaded room caught up: the chat so far, and the student's media state.
    expect((await waitForEvents(teacher, "chat", callId)).map((e) => e.detail?.["text"])).toEqual(["¿Me oyes?"]);
    expect((await waitForEvents(teacher, "roomMediaState", callId)).some((e) => e.detail?.["userId"] === studentId)).toBe(true);
    // The student's session replaced its dead peer connection and receives again.
    await waitForEvents(student, "peerRejoined", callId, 1, 5_000);
    await waitForEvents(student, "sessionPeerRejoined", callId, 1, 5_000);
    const rejoinedAt = (await events(student, "sessionPeerRejoined", callId))[0]?.at ?? 0;
    const deadline = Date.now() + 20_000;
    let after: Recorded[] = [];
    while (Date.now() < deadline) {
      after = (await events(student, "confirmation", callId)).filter((e) => e.at > rejoinedAt && Number(e.detail?.["inboundBytes"]) > 0);
      if (after.length >= 2 && Number(after.at(-1)?.detail?.["inboundBytes"]) > Number(after[0]?.detail?.["inboundBytes"])) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(Number(after.at(-1)?.detail?.["inboundBytes"])).toBeGreaterThan(Number(after[0]?.detail?.["inboundBytes"]));
    // Both sides' media is confirmed again: billing resumes and the student's banner goes.
    const [back] = await waitForEvents(student, "back", callId, 1, 20_000);
    expect(back?.at).toBeGreaterThan(reconnecting?.at ?? Infinity);
    expect(await harness(student, (id) => window.callHarness.sent(id), callId)).toMatchObject({ offer: 2 }); // the impolite student offered again
    expect([...(await events(student, "error", callId)), ...(await events(teacher, "error", callId))]).toEqual([]);

    await endCall(callId);
    expect(await harness(teacher, (id) => window.callHarness.rejoin(id).catch((e: { code?: string }) => e.code ?? "?"), callId)).toBe("call_ended");
  });

  it("rejoins a live call after the student reloads: the teacher's session replaces its peer connection and answers the student's new offer", { timeout: 60_000 }, async () => {
    const { callId } = await connectCall();

    await student.page.reload();
    await waitForReady(student.page);
    await student.page.evaluate(([t, o]) => window.callHarness.connect(t, o), [student.token, { rejoinLiveCalls: true }] as const);

    await waitForEvents(student, "rejoined", callId, 1, 15_000);
    await waitForEvents(student, "mediaConnected", callId, 1, 20_000);
    const [replaced] = await waitForEvents(teacher, "sessionPeerRejoined", callId, 1, 5_000);
    const deadline = Date.now() + 20_000;
    let after: Recorded[] = [];
    while (Date.now() < deadline) {
      after = (await events(teacher, "confirmation", callId)).filter((e) => e.at > (replaced?.at ?? 0) && Number(e.detail?.["inboundBytes"]) > 0);
      if (after.length >= 2 && Number(after.at(-1)?.detail?.["inboundBytes"]) > Number(after[0]?.detail?.["inboundBytes"])) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(Number(after.at(-1)?.detail?.["inboundBytes"])).toBeGreaterThan(Number(after[0]?.detail?.["inboundBytes"]));
    // The polite teacher answered the reloaded student's offer and made none of its own.
    expect(await harness(teacher, (id) => window.callHarness.sent(id), callId)).toMatchObject({ answer: 2 });
    expect((await harness(teacher, (id) => window.callHarness.sent(id), callId))?.["offer"]).toBeUndefined();
    expect(await harness(student, (id) => window.callHarness.sent(id), callId)).toMatchObject({ offer: 1 });
    expect([...(await events(student, "error", callId)), ...(await events(teacher, "error", callId))]).toEqual([]);
    await endCall(callId);
  });
});
