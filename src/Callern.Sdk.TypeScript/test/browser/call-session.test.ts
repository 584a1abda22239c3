// A real call between two Chromium processes through coturn, relay only: the SDK as a school's
// student and teacher pages would use it. The node test process stands in for the platform's
// hub: it relays signals and media state between the two pages and hands out fresh TURN
// credentials. Run with `npm run test:browser` (builds the SDK first).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CallErrorCode,
  CallSessionOptions,
  CallStats,
  MediaConfirmationOutcome,
  MediaSample,
  MediaState,
  PreCallCheckOptions,
  PreCallReport,
  Signal,
  StreamSource,
} from "../../src/index.js";
import { externalTurnServer, launchChromium, startCoturn, startPageServer, turnCredentials, type TurnServer } from "./support.js";

interface RecordedEvent {
  name: string;
  at: number;
  detail?: unknown;
}

interface StreamInfo {
  source: StreamSource;
  tracks: { kind: string; readyState: MediaStreamTrackState; muted: boolean }[];
}

/** What test/browser/page/harness.js puts on the page. */
interface Harness {
  start(options: Omit<CallSessionOptions, "channel">): Promise<number>;
  deliverSignal(signal: Signal): void;
  deliverRemoteMediaState(state: MediaState): void;
  events(name: string): RecordedEvent[];
  lastStats(): CallStats | null;
  session(): {
    setMicrophoneEnabled(enabled: boolean): Promise<void>;
    setCameraEnabled(enabled: boolean): Promise<void>;
    startScreenShare(): Promise<void>;
    stopScreenShare(): Promise<void>;
    restartIce(): Promise<void>;
    listDevices(): Promise<{ cameras: MediaDeviceInfo[]; microphones: MediaDeviceInfo[] }>;
    switchCamera(deviceId: string): Promise<void>;
    end(reason?: string): void;
    readonly connectionState: RTCPeerConnectionState;
    readonly localStream: MediaStream;
    listenerCount(): number;
  };
  signalHandlerCount(): number;
  capturedTracks(): { kind: string; label: string; readyState: MediaStreamTrackState }[];
  remoteStreams(): StreamInfo[];
  preCallCheck(options: PreCallCheckOptions): Promise<PreCallReport>;
}

declare global {
  interface Window {
    harness: Harness;
    harnessReady?: boolean;
  }
}

interface Participant {
  name: string;
  browser: Browser;
  page: Page;
  /** The media confirmations the session sent to the stand-in platform (bytes received, when). */
  confirmations: MediaSample[];
  iceServerRefreshes: number;
}

/** The TURN server the stand-in platform hands out credentials for; the call starts on a throwaway coturn. */
let turn: TurnServer;
/** CALLERN_TEST_TURN_URL/CALLERN_TEST_TURN_SECRET: used for the pre-call check and as the failover target. */
const external = externalTurnServer();
const turnServers: TurnServer[] = [];
let pages: { url: string; close(): Promise<void> };
let student: Participant;
let teacher: Participant;
const relayErrors: unknown[] = [];

/** Opens the test page in its own Chromium process, wired to the stand-in hub. */
async function join(name: string, browser: Browser, peer: () => Participant): Promise<Participant> {
  const page = await browser.newPage();
  const participant: Participant = { name, browser, page, confirmations: [], iceServerRefreshes: 0 };
  page.on("pageerror", (error) => relayErrors.push(`${name}: ${error.message}`));
  // A real hub delivers in order; so does this relay: one chain of deliveries per receiving page.
  let deliveries = Promise.resolve();
  const forward = (deliver: (to: Page) => Promise<void>): void => {
    deliveries = deliveries.then(() => deliver(peer().page)).catch((error: unknown) => {
      relayErrors.push(error);
    });
  };
  await page.exposeFunction("relaySignal", (signal: Signal) =>
    forward((to) => to.evaluate((s) => window.harness.deliverSignal(s), signal)),
  );
  await page.exposeFunction("relayMediaState", (state: MediaState) =>
    forward((to) => to.evaluate((s) => window.harness.deliverRemoteMediaState(s), state)),
  );
  // As the platform: a confirmation counts when bytes grew; billing once both sides' media flows.
  await page.exposeFunction("confirmMedia", (sample: MediaSample): MediaConfirmationOutcome => {
    const previous = participant.confirmations.at(-1)?.inboundBytes ?? 0;
    participant.confirmations.push(sample);
    const flowing = (p: Participant) => (p.confirmations.at(-1)?.inboundBytes ?? 0) > 0;
    return { status: "counted", mediaFlowing: sample.inboundBytes > previous, billing: flowing(participant) && flowing(peer()) };
  });
  await page.exposeFunction("refreshIceServers", () => {
    participant.iceServerRefreshes += 1;
    return [turnCredentials(turn)];
  });
  await page.goto(pages.url);
  await page.waitForFunction(() => window.harnessReady === true);
  return participant;
}

function events(p: Participant, name: string): Promise<RecordedEvent[]> {
  return p.page.evaluate((n) => window.harness.events(n), name);
}

function lastStats(p: Participant): Promise<CallStats | null> {
  return p.page.evaluate(() => window.harness.lastStats());
}

/** Waits until the page has recorded an event of `name` matching `detail` (partially). */
async function waitForEvent(p: Participant, name: string, detail?: unknown, timeout = 15_000): Promise<RecordedEvent> {
  const handle = await p.page.waitForFunction(
    ([n, d]) => {
      const matches = (actual: unknown, expected: unknown): boolean =>
        expected === undefined ||
        (typeof expected === "object" && expected !== null && typeof actual === "object" && actual !== null
          ? Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v))
          : actual === expected);
      return window.harness.events(n).find((e) => matches(e.detail, d)) ?? false;
    },
    [name, detail] as const,
    { timeout, polling: 100 },
  );
  return (await handle.jsonValue()) as RecordedEvent;
}

/** Waits for the next stats sample whose bytesReceived exceeds `than`. */
async function waitForBytesBeyond(p: Participant, than: number, timeout = 10_000): Promise<CallStats> {
  await p.page.waitForFunction((n) => (window.harness.lastStats()?.bytesReceived ?? 0) > n, than, { timeout, polling: 200 });
  const stats = await lastStats(p);
  if (!stats) throw new Error("no stats");
  return stats;
}

/** Waits for an event of `name` whose detail is one of `details`, recorded after the page time `after`. */
async function waitForEventAfter(p: Participant, name: string, details: unknown[], after: number, timeout: number): Promise<RecordedEvent> {
  const handle = await p.page.waitForFunction(
    ([n, d, t]) => window.harness.events(n).find((e) => e.at > t && d.includes(e.detail)) ?? false,
    [name, details, after] as const,
    { timeout, polling: 100 },
  );
  return (await handle.jsonValue()) as RecordedEvent;
}

async function errorsOf(p: Participant): Promise<{ code: CallErrorCode; message: string; cause: string }[]> {
  return (await events(p, "error")).map((e) => e.detail as { code: CallErrorCode; message: string; cause: string });
}

beforeAll(async () => {
  // Always a coturn of our own for the call, even with an external server given: the failover
  // scenario stops the server the call runs on, which only works for one this test started.
  const coturn = startCoturn();
  const browsers = Promise.all([launchChromium(), launchChromium()]);
  turn = await coturn;
  turnServers.push(turn);
  pages = await startPageServer();
  // Two separate browser processes, as a student's and a teacher's machines would be.
  const [studentBrowser, teacherBrowser] = await browsers;
  [student, teacher] = await Promise.all([join("student", studentBrowser, () => teacher), join("teacher", teacherBrowser, () => student)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([student?.browser.close(), teacher?.browser.close()]);
  await pages?.close();
  await Promise.all(turnServers.map((t) => t.stop()));
});

describe("CallSession in two Chromium processes through TURN (relay only)", () => {
  it("pre-call check: camera, microphone level and a TURN relay allocation; bad credentials are reported", async () => {
    const checked = external ?? turn;
    const wrong = { ...turnCredentials(checked), credential: "not-the-password" };
    const [good, bad] = await Promise.all([
      student.page.evaluate((iceServers) => window.harness.preCallCheck({ iceServers }), [turnCredentials(checked)]),
      teacher.page.evaluate((iceServers) => window.harness.preCallCheck({ iceServers, camera: false, microphone: false }), [wrong]),
    ]);

    console.info(`pre-call check: ${JSON.stringify(good)}; with a wrong password: ${JSON.stringify(bad.turn)}`);
    expect(good.camera).toMatchObject({ ok: true, skipped: false, error: null });
    expect(good.camera.width).toBeGreaterThan(0);
    expect(good.microphone.ok).toBe(true);
    expect(good.microphone.level).toBeGreaterThan(0.001); // Chromium's fake microphone beeps
    expect(good.turn).toMatchObject({ ok: true, error: null });
    expect(good.turn.relayAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(good.ok).toBe(true);

    expect(bad.camera.skipped && bad.microphone.skipped).toBe(true);
    expect(bad.turn.ok).toBe(false);
    expect(bad.turn.error).toMatch(/401|Unauthorized|timed out/);
    expect(bad.ok).toBe(false);
    // Every device the check opened is closed again.
    const live = (await student.page.evaluate(() => window.harness.capturedTracks())).filter((t) => t.readyState === "live");
    expect(live).toEqual([]);
  });

  it("connects both sides through the relay and media flows both ways", async () => {
    const options = (polite: boolean) => ({ iceServers: [turnCredentials(turn)], polite, iceTransportPolicy: "relay" as const });
    // Started together: only the impolite side (the teacher here) offers, once its media is attached.
    const [studentStart, teacherStart] = await Promise.all([
      student.page.evaluate((o) => window.harness.start(o), options(true)),
      teacher.page.evaluate((o) => window.harness.start(o), options(false)),
    ]);

    const [studentConnected, teacherConnected] = await Promise.all([
      waitForEvent(student, "mediaConnected"),
      waitForEvent(teacher, "mediaConnected"),
    ]);
    for (const [p, startedAt, connected] of [[student, studentStart, studentConnected], [teacher, teacherStart, teacherConnected]] as const) {
      const media = (await events(p, "localStream"))[0]?.at ?? NaN;
      const connecting = (await events(p, "connectionState")).find((e) => e.detail === "connecting")?.at ?? NaN;
      console.info(
        `${p.name}: connected ${Math.round(connected.at - startedAt)} ms after start() ` +
          `(camera and microphone open after ${Math.round(media - startedAt)} ms, ICE connecting after ${Math.round(connecting - startedAt)} ms)`,
      );
    }
    expect((await events(student, "mediaConnected")).length).toBe(1);
    expect((await events(teacher, "mediaConnected")).length).toBe(1);

    for (const p of [student, teacher]) {
      const first = await waitForBytesBeyond(p, 0);
      const later = await waitForBytesBeyond(p, first.bytesReceived + 20_000);
      console.info(`${p.name}: ${later.bytesReceived} bytes received, ${later.bytesSent} sent, ${later.bitrateInBps} bps in, rtt ${later.rttMs} ms`);
      expect(later).toMatchObject({ localCandidateType: "relay", remoteCandidateType: "relay" });
      expect(later.bytesSent).toBeGreaterThan(0);
      const streams = await p.page.evaluate(() => window.harness.remoteStreams());
      expect(streams).toEqual([
        {
          source: "camera",
          tracks: expect.arrayContaining([
            { kind: "audio", readyState: "live", muted: false },
            { kind: "video", readyState: "live", muted: false },
          ]) as unknown,
        },
      ]);
      expect(await errorsOf(p)).toEqual([]);
    }
  });

  it("confirms the media it receives to the platform every 4 s, with its stats, with no help from the app", async () => {
    for (const p of [student, teacher]) {
      const from = p.confirmations.length;
      await expect.poll(() => p.confirmations.length, { timeout: 16_000, interval: 200 }).toBeGreaterThanOrEqual(from + 3);
      const recent = p.confirmations.slice(-3);
      const gaps = recent.slice(1).map((c, i) => c.sampledAt - (recent[i]?.sampledAt ?? 0));
      console.info(`${p.name}: confirmations ${gaps.map((g) => `${g} ms`).join(", ")} apart, ${recent.map((c) => c.inboundBytes).join(" < ")} bytes`);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(3_700);
      for (const gap of gaps) expect(gap).toBeLessThanOrEqual(5_000); // a stats sample late under load, never a skipped one
      expect(recent.map((c) => c.inboundBytes)).toEqual([...recent.map((c) => c.inboundBytes)].sort((x, y) => x - y));
      expect(recent.at(-1)?.inboundBytes).toBeGreaterThan(recent[0]?.inboundBytes ?? 0);
      // The stats sampled meanwhile ride in the confirmations (one message every 4 s, no ReportStats of their own).
      expect(recent.every((c) => c.stats !== undefined && c.stats.bytesReceived > 0)).toBe(true);
    }
  });

  it("shows the student's mute on the teacher's side", async () => {
    await student.page.evaluate(() => window.harness.session().setMicrophoneEnabled(false));

    await waitForEvent(teacher, "remoteMediaState", { microphone: false, camera: true, screenShare: false }, 5_000);
    const audioEnabled = await student.page.evaluate(() => window.harness.session().localStream.getAudioTracks().map((t) => t.enabled));
    expect(audioEnabled).toEqual([false]);

    await student.page.evaluate(() => window.harness.session().setMicrophoneEnabled(true));
    await waitForEvent(teacher, "remoteMediaState", { microphone: true }, 5_000);
  });

  it("turns the teacher's camera off (camera released, shown on the student's side) and back on", async () => {
    const liveVideo = async () =>
      (await teacher.page.evaluate(() => window.harness.capturedTracks())).filter((t) => t.kind === "video" && t.readyState === "live");

    await teacher.page.evaluate(() => window.harness.session().setCameraEnabled(false));

    await waitForEvent(student, "remoteMediaState", { microphone: true, camera: false, screenShare: false }, 5_000);
    expect(await liveVideo()).toEqual([]); // the camera light goes out
    const off = await waitForBytesBeyond(student, ((await lastStats(student))?.bytesReceived ?? 0) + 1);
    await student.page.waitForFunction((after) => (window.harness.lastStats()?.timestamp ?? 0) > after + 1500, off.timestamp, { timeout: 10_000 });
    expect((await lastStats(student))?.bitrateInBps).toBeLessThan(100_000); // audio only

    await teacher.page.evaluate(() => window.harness.session().setCameraEnabled(true));

    await waitForEvent(student, "remoteMediaState", { camera: true }, 5_000);
    expect(await liveVideo()).toHaveLength(1);
    await waitForBytesBeyond(student, ((await lastStats(student))?.bytesReceived ?? 0) + 50_000);
  });

  it("lists the devices and switches the camera without renegotiating", async () => {
    const cameras = await student.page.evaluate(async () =>
      (await window.harness.session().listDevices()).cameras.map((d) => ({ deviceId: d.deviceId, label: d.label })),
    );
    expect(cameras).toHaveLength(3);
    expect(cameras.every((c) => c.label !== "")).toBe(true); // labels once permission was granted
    const current = await student.page.evaluate(() => window.harness.session().localStream.getVideoTracks()[0]?.getSettings().deviceId);
    expect(current).toBe(cameras[0]?.deviceId);
    const other = cameras[2]; // not [1]: Chromium's second fake camera is a depth camera (see launchChromium)
    if (!other) throw new Error("no third camera");
    const remoteStreamsBefore = (await events(teacher, "remoteStream")).length;

    await student.page.evaluate((id) => window.harness.session().switchCamera(id), other.deviceId);

    const after = await student.page.evaluate(() =>
      window.harness.session().localStream.getVideoTracks().map((t) => ({ deviceId: t.getSettings().deviceId, readyState: t.readyState })),
    );
    expect(after).toEqual([{ deviceId: other.deviceId, readyState: "live" }]);
    const bytes = (await lastStats(teacher))?.bytesReceived ?? 0;
    await waitForBytesBeyond(teacher, bytes + 50_000);
    expect((await events(teacher, "remoteStream")).length).toBe(remoteStreamsBefore);
    // The camera that was switched away from is released.
    const live = (await student.page.evaluate(() => window.harness.capturedTracks())).filter((t) => t.kind === "video" && t.readyState === "live");
    expect(live).toHaveLength(1);
  });

  it("renegotiates a screen share: the teacher gets a second video stream, and loses it when sharing stops", async () => {
    await student.page.evaluate(() => window.harness.session().startScreenShare());

    await waitForEvent(teacher, "remoteStream", { source: "screen" });
    await waitForEvent(teacher, "remoteMediaState", { screenShare: true }, 5_000);
    await teacher.page.waitForFunction(
      () => window.harness.remoteStreams().some((s) => s.source === "screen" && s.tracks.some((t) => t.kind === "video" && !t.muted)),
      undefined,
      { timeout: 10_000 },
    );

    await student.page.evaluate(() => window.harness.session().stopScreenShare());

    await waitForEvent(teacher, "remoteStreamRemoved", { source: "screen" });
    await waitForEvent(teacher, "remoteMediaState", { screenShare: false }, 5_000);
    const streams = await teacher.page.evaluate(() => window.harness.remoteStreams());
    expect(streams.map((s) => s.source)).toEqual(["camera"]);
    const bytes = (await lastStats(teacher))?.bytesReceived ?? 0;
    await waitForBytesBeyond(teacher, bytes + 20_000); // the camera kept flowing
    expect([...(await errorsOf(student)), ...(await errorsOf(teacher))]).toEqual([]);
  });

  it("recovers from losing its TURN server: ICE restart with fresh credentials for another one", async () => {
    const before = await Promise.all([lastStats(student), lastStats(teacher)]);
    const replacement = external ?? (await startCoturn());
    turnServers.push(replacement);
    const lost = turn;
    turn = replacement; // from now on the stand-in platform hands out credentials for the replacement
    await lost.stop();
    const lostAt = Date.now();
    const pageTimes = await Promise.all([student, teacher].map((p) => p.page.evaluate(() => performance.now())));

    for (const [i, p] of [student, teacher].entries()) {
      const restart = await waitForEventAfter(p, "iceRestart", ["disconnected", "failed"], pageTimes[i] ?? 0, 30_000);
      const back = await waitForEventAfter(p, "connectionState", ["connected"], restart.at, 30_000);
      console.info(`${p.name}: ICE restart (${String(restart.detail)}), connected again ${Math.round(back.at - (pageTimes[i] ?? 0))} ms after the TURN server was stopped`);
      const stats = await waitForBytesBeyond(p, (before[i]?.bytesReceived ?? 0) + 50_000, 15_000);
      expect(stats).toMatchObject({ localCandidateType: "relay", remoteCandidateType: "relay" });
      expect(p.iceServerRefreshes).toBeGreaterThan(0);
    }
    console.info(`recovered on both sides ${Date.now() - lostAt} ms after the TURN server was stopped`);
    // Both sides restarted ICE at once (glare, resolved by perfect negotiation): the remote
    // camera's tracks are still live and unmuted, not left muted by the rolled-back offer.
    for (const p of [student, teacher]) {
      await p.page.waitForFunction(
        () => window.harness.remoteStreams().every((s) => s.tracks.every((t) => t.readyState === "live" && !t.muted)),
        undefined,
        { timeout: 10_000 },
      );
      const streams = await p.page.evaluate(() => window.harness.remoteStreams());
      expect(streams.map((s) => s.source)).toEqual(["camera"]);
      expect(streams[0]?.tracks).toHaveLength(2);
    }
    expect([...(await errorsOf(student)), ...(await errorsOf(teacher))]).toEqual([]);
  });

  it("ends cleanly: no track left running, connection closed, every listener removed", async () => {
    for (const p of [student, teacher]) {
      const result = await p.page.evaluate(() => {
        const session = window.harness.session();
        session.end();
        return {
          connectionState: session.connectionState,
          listeners: session.listenerCount(),
          signalHandlers: window.harness.signalHandlerCount(),
          live: window.harness.capturedTracks().filter((t) => t.readyState === "live"),
          ended: window.harness.events("ended").map((e) => e.detail),
        };
      });
      expect(result).toEqual({ connectionState: "closed", listeners: 0, signalHandlers: 0, live: [], ended: ["local"] });
    }
    expect(relayErrors).toEqual([]);
  });

  it("adaptive quality: a second call on a poor-looking network steps the student's video down to audio only", async () => {
    // Every sample counts as poor (any RTT is at least 0 ms) and one is enough per step, so the
    // whole ladder runs in a few seconds: 1 Mbps, 500 kbps, 250 kbps caps, then audio only.
    const poorNetwork = { poorRttMs: 0, poorSamplesToStepDown: 1 };
    const options = (polite: boolean) => ({ iceServers: [turnCredentials(turn)], polite, iceTransportPolicy: "relay" as const });
    await Promise.all([
      student.page.evaluate((o) => window.harness.start(o), { ...options(true), quality: poorNetwork }),
      teacher.page.evaluate((o) => window.harness.start(o), options(false)),
    ]);
    await Promise.all([waitForEvent(student, "mediaConnected"), waitForEvent(teacher, "mediaConnected")]);

    await waitForEvent(student, "quality", { audioOnly: true }, 20_000);
    const steps = (await events(student, "quality")).map((e) => e.detail);
    expect(steps).toEqual([
      { level: 1, maxBitrateBps: 1_000_000, audioOnly: false },
      { level: 2, maxBitrateBps: 500_000, audioOnly: false },
      { level: 3, maxBitrateBps: 250_000, audioOnly: false },
      { level: 4, maxBitrateBps: null, audioOnly: true },
    ]);
    // What the teacher receives from now on is the student's audio alone: well under 100 kbps.
    const received = await waitForBytesBeyond(teacher, ((await lastStats(teacher))?.bytesReceived ?? 0) + 1);
    await teacher.page.waitForFunction((after) => (window.harness.lastStats()?.timestamp ?? 0) > after + 2500, received.timestamp, { timeout: 10_000 });
    const audioOnly = await lastStats(teacher);
    console.info(`teacher receives ${audioOnly?.bitrateInBps} bps once the student fell back to audio only`);
    expect(audioOnly?.bitrateInBps).toBeGreaterThan(0);
    expect(audioOnly?.bitrateInBps).toBeLessThan(100_000);

    for (const p of [student, teacher]) {
      const live = await p.page.evaluate(() => {
        window.harness.session().end();
        return window.harness.capturedTracks().filter((t) => t.readyState === "live");
      });
      expect(live).toEqual([]);
    }
  });

  it("runs the README's snippet: two tabs connect through a BroadcastChannel", async () => {
    const context = await student.browser.newContext();
    const tabs = await Promise.all([context.newPage(), context.newPage()]);
    const logs = tabs.map((tab) => {
      const lines: string[] = [];
      tab.on("console", (message) => lines.push(message.text()));
      tab.on("pageerror", (error) => lines.push(`pageerror: ${error.message}`));
      return lines;
    });
    // One tab after the other, as a user would open them (the snippet waits for both).
    await tabs[0]?.goto(`${pages.url}readme/`);
    await tabs[1]?.goto(`${pages.url}readme/?polite`);

    for (const lines of logs) {
      await expect.poll(() => lines.find((l) => l.startsWith("media connected")), { timeout: 20_000, interval: 200 }).toBeDefined();
      await expect.poll(() => lines.some((l) => /^rtt \d+ ms, in [1-9]\d* bps$/.test(l)), { timeout: 10_000, interval: 200 }).toBe(true);
      expect(lines.filter((l) => l.startsWith("pageerror"))).toEqual([]);
    }
    await context.close();
  });
});
