// The realtime client against the real platform that ./test.sh starts (CALLERN_DEMO). Each test
// uses its own demo student and teacher, so the tests do not ring each other's teachers.
import { afterEach, describe, expect, it } from "vitest";
import {
  type CallFile,
  CallernRealtime,
  CallState,
  type ChatMessage,
  createCallernApi,
  type MediaStateChangedEvent,
  type RealtimeEvents,
  RealtimeError,
  type RealtimeProtocol,
  type Signal,
  type WhiteboardOperation,
} from "../src/index.js";
import { demo, mintToken } from "./demo.js";

const clients: CallernRealtime[] = [];
/** Calls a test started, ended after it even when it failed, so the next run's students have their minutes. */
const calls: { client: CallernRealtime; callId: string }[] = [];

afterEach(async () => {
  for (const { client, callId } of calls.splice(0)) await client.endCall(callId).catch(() => undefined);
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

function connect(userId: string, role: string, reconnectDelaysMs?: number[], protocol?: RealtimeProtocol): { client: CallernRealtime; tokensIssued: () => number } {
  let issued = 0;
  const client = new CallernRealtime({
    protocol,
    baseUrl: demo().baseUrl,
    accessToken: () => {
      issued++;
      return mintToken(userId, role);
    },
    reconnectDelaysMs,
  });
  clients.push(client);
  return { client, tokensIssued: () => issued };
}

/** Resolves with the next `event` matching `match`, recorded from now on; fails after 10 s. */
function next<E extends keyof RealtimeEvents>(client: CallernRealtime, event: E, match: (p: RealtimeEvents[E]) => boolean = () => true): Promise<RealtimeEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within 10 s`)), 10_000);
    const off = client.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

describe("CallernRealtime against the running platform", () => {
  it("carries a whole call: request, ring, accept, ordered signals, media connected, end", async () => {
    const { client: teacher } = connect("teacher-jack", "teacher");
    const { client: student } = connect("student-ana", "student");
    await Promise.all([teacher.start(), student.start()]);
    expect(teacher.connectionState).toBe("connected");
    expect((await teacher.setAvailability("available")).status).toBe("available");

    const incoming = next(teacher, "incomingCall");
    const ringing = next(student, "callRinging");
    const call = await student.requestCall({ language: "en", level: "B1", preferredTeachers: ["teacher-jack"] });
    calls.push({ client: student, callId: call.id });
    expect(call.state).toBe(CallState.Ringing);
    expect((await ringing).callId).toBe(call.id);
    const offer = await incoming;
    expect(offer).toMatchObject({ callId: call.id, student: { id: "student-ana", displayName: "Ana Souza" } });

    const studentAccepted = next(student, "callAccepted");
    const teacherAccepted: string[] = [];
    teacher.on("callAccepted", (e) => teacherAccepted.push(e.callId));
    const accepted = await teacher.acceptOffer(offer.offerId);
    expect(accepted).toMatchObject({ callId: call.id, polite: true, peer: { id: "student-ana" } });
    expect(await studentAccepted).toMatchObject({ callId: call.id, polite: false, peer: { id: "teacher-jack" } });
    expect(accepted.iceServers.iceServers[0]?.urls.length).toBeGreaterThan(0);

    // The student negotiates before the teacher's app has even opened the room: the teacher's
    // client keeps the signals, in order, for the room's first subscriber.
    const studentRoom = student.room(call.id);
    const sent: Signal[] = [
      { type: "description", description: { type: "offer", sdp: "v=0 offer" } },
      { type: "candidate", candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 } },
      { type: "candidate", candidate: { candidate: "candidate:2 1 udp 1 127.0.0.1 5001 typ host", sdpMid: "0", sdpMLineIndex: 0 } },
    ];
    for (const signal of sent) await studentRoom.send(signal);
    await teacher.refreshIceServers(call.id); // a round trip on the teacher's connection: the signals are there before its answer
    // The teacher got the call as acceptOffer's result and as the hub event: one callAccepted.
    expect(teacherAccepted).toEqual([call.id]);

    const teacherRoom = teacher.room(call.id);
    expect(teacher.room(call.id)).toBe(teacherRoom);
    const received: Signal[] = [];
    teacherRoom.onSignal((s) => received.push(s));
    expect(received).toEqual(sent);

    const answered = new Promise<Signal>((resolve) => studentRoom.onSignal(resolve));
    await teacherRoom.send({ type: "description", description: { type: "answer", sdp: "v=0 answer" } });
    expect(await answered).toEqual({ type: "description", description: { type: "answer", sdp: "v=0 answer" } });
    expect((await studentRoom.refreshIceServers())[0]?.username).toMatch(/^\d+:/);

    // Each side confirms the media bytes it received; both confirmed: connected (and billing).
    const connected = Promise.all([next(student, "callConnected"), next(teacher, "callConnected")]);
    expect(await studentRoom.confirmMedia({ inboundBytes: 40_000, sampledAt: Date.now() })).toMatchObject({ status: "counted", mediaFlowing: true, billing: false });
    expect(await teacherRoom.confirmMedia({ inboundBytes: 52_000, sampledAt: Date.now() })).toMatchObject({ status: "counted", mediaFlowing: true, billing: true });
    const [studentConnected, teacherConnected] = await connected;
    // Sooner than a second after the previous one: not counted, and no error for the app.
    expect(await studentRoom.confirmMedia({ inboundBytes: 41_000, sampledAt: Date.now() })).toEqual({ status: "skipped" });
    expect(studentConnected.connectedAt).toBe(teacherConnected.connectedAt);

    // After a reload an app finds the call it is in (GET /v1/me/calls/live).
    expect(await student.findLiveCall()).toMatchObject({ id: call.id, state: CallState.Connected });
    expect(await teacher.findLiveCall()).toMatchObject({ id: call.id });
    // The teacher opens the app again (a reload, a second tab): told about the live call, it rejoins;
    // the student is told its peer rejoined. The first client, with the call's room open, is not told.
    const { client: reloaded } = connect("teacher-jack", "teacher");
    const firstClientLive: string[] = [];
    teacher.on("liveCall", (e) => firstClientLive.push(e.callId));
    const live = next(reloaded, "liveCall");
    const peerRejoined: unknown[] = [];
    student.on("peerRejoined", (e) => peerRejoined.push(e));
    await reloaded.start();
    expect(await live).toEqual({ callId: call.id, state: CallState.Connected });
    // An app asks twice at page load (the liveCall event and findLiveCall): one rejoin, the peer told once.
    const [rejoined, again] = await Promise.all([reloaded.rejoinCall(call.id), reloaded.rejoinCall(call.id)]);
    expect(again).toBe(rejoined);
    expect(rejoined).toMatchObject({ callId: call.id, polite: true, peer: { id: "student-ana" }, state: CallState.Connected });
    expect(Date.parse(rejoined.serverTime)).toBeGreaterThan(0);
    await expect.poll(() => peerRejoined.length).toBe(1);
    await student.refreshIceServers(call.id); // a round trip: a second peerRejoined would be here by now
    expect(peerRejoined).toEqual([{ callId: call.id, userId: "teacher-jack" }]);
    await reloaded.stop();
    // The first client loses its connection and connects anew: it still has the call's room open,
    // it never left the call, so it is not asked to rejoin.
    const back = next(teacher, "reconnected");
    await teacher.requestCall({ language: "x".repeat(70_000) }).catch(() => undefined); // over the hub's size limit: the platform closes it
    await back;
    await teacher.refreshIceServers(call.id); // a round trip on the new connection: LiveCall would be here by now
    expect(firstClientLive).toEqual([]);

    const ended = Promise.all([next(student, "callEnded"), next(teacher, "callEnded")]);
    const summary = await student.endCall(call.id);
    expect(summary).toMatchObject({ id: call.id, state: CallState.Ended, endReason: "completed" });
    for (const e of await ended) expect(e).toMatchObject({ callId: call.id, reason: "completed", summary: { id: call.id } });

    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("student-ana", "student") });
    expect((await api.getCall(call.id)).state).toBe(CallState.Ended);
    expect(await student.findLiveCall()).toBeNull();
    await expect(student.rejoinCall(call.id)).rejects.toMatchObject({ code: "call_ended" });
    studentRoom.close();
    teacherRoom.close();
    await teacher.setAvailability("offline");
  });

  it("reconnects with a fresh token after the platform drops the connection, and commands work again", async () => {
    const { client: teacher, tokensIssued } = connect("teacher-emma", "teacher", [100, 500]);
    const states: string[] = [];
    teacher.on("connectionStateChanged", (e) => states.push(e.state));
    await teacher.start();
    expect(tokensIssued()).toBe(1);

    // A message over the hub's size limit makes the platform close this connection.
    const reconnected = next(teacher, "reconnected");
    const refused = await teacher.requestCall({ language: "x".repeat(70_000) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RealtimeError);
    expect(await reconnected).toEqual({ attempts: 1 });

    expect(tokensIssued()).toBe(2);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    expect((await teacher.setAvailability("away")).status).toBe("away");
    await teacher.setAvailability("offline");
  });

  it("stops while reconnecting, and starts again without the old retry loop coming back", async () => {
    const { client: teacher, tokensIssued } = connect("teacher-priya", "teacher", [1500]);
    await teacher.start();
    await teacher.requestCall({ language: "x".repeat(70_000) }).catch(() => undefined);
    expect(teacher.connectionState).toBe("reconnecting");
    const waiting = teacher.setAvailability("available").catch((e: unknown) => e);

    await teacher.stop();
    expect(await waiting).toMatchObject({ code: "not_connected" });
    await teacher.start();
    await new Promise((r) => setTimeout(r, 2000)); // past the old loop's delay

    expect(teacher.connectionState).toBe("connected");
    expect(tokensIssued()).toBe(2); // the first start and the second, no reconnect from the old loop
    expect((await teacher.setAvailability("offline")).status).toBe("offline");
  });

  // Each protocol, and a student and a teacher on different ones: the same values either way.
  it.each<[RealtimeProtocol, RealtimeProtocol]>([
    ["json", "json"],
    ["messagepack", "messagepack"],
    ["messagepack", "json"],
  ])("carries a room: chat, media state, whiteboard and files, each once and in order, caught up after a reconnect (student %s, teacher %s)", async (studentProtocol, teacherProtocol) => {
    const { client: teacher, tokensIssued } = connect("teacher-liam", "teacher", [1000], teacherProtocol);
    const { client: student } = connect("student-omar", "student", undefined, studentProtocol);
    await Promise.all([teacher.start(), student.start()]);
    await teacher.setAvailability("available");
    const incoming = next(teacher, "incomingCall");
    const call = await student.requestCall({ language: "en", level: "C1", preferredTeachers: ["teacher-liam"] });
    calls.push({ client: student, callId: call.id });
    const studentAccepted = next(student, "callAccepted");
    await teacher.acceptOffer((await incoming).offerId);
    await studentAccepted;

    const studentRoom = student.room(call.id);
    const teacherRoom = teacher.room(call.id);
    const [teacherChat, studentChat, studentBoard]: [ChatMessage[], ChatMessage[], WhiteboardOperation[]] = [[], [], []];
    const teacherMedia: MediaStateChangedEvent[] = [];
    const teacherFiles: CallFile[] = [];
    teacherRoom.onChat((m) => teacherChat.push(m));
    studentRoom.onChat((m) => studentChat.push(m));
    studentRoom.onWhiteboard((o) => studentBoard.push(o));
    teacherRoom.onMediaState((e) => teacherMedia.push(e));
    teacherRoom.onFile((f) => teacherFiles.push(f));
    const seqs = (messages: ChatMessage[]) => messages.map((m) => `${m.seq}:${m.text}`);
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(done()).toBe(true);
    };

    expect((await studentRoom.sendChat("Hello!")).seq).toBe(1);
    await studentRoom.sendChat("  Shall we start?  ");
    await until(() => teacherChat.length === 2 && studentChat.length === 2);
    expect(seqs(teacherChat)).toEqual(["1:Hello!", "2:Shall we start?"]);
    expect(seqs(studentChat)).toEqual(seqs(teacherChat)); // own messages once: the answer and the echo are one

    await studentRoom.reportMediaState({ microphone: false, camera: true, screenShare: false });
    await until(() => teacherMedia.length === 1);
    expect(teacherMedia[0]).toMatchObject({ callId: call.id, userId: "student-omar", state: { microphone: false, camera: true, screenTrackId: null } });

    const stroke = await teacherRoom.sendWhiteboard({ kind: "stroke", data: { points: [[0.1, 0.2], [0.3, 0.4]], color: "#1e88e5", width: 2 } });
    await until(() => studentBoard.length === 1);
    expect(studentBoard[0]).toEqual(stroke);
    expect((await studentRoom.whiteboard()).operations.map((o) => o.seq)).toEqual([stroke.seq]);

    const shared = await studentRoom.uploadFile(new Blob(["vocabulary list"], { type: "text/plain" }), "words.txt");
    await until(() => teacherFiles.length === 1);
    expect(teacherFiles[0]).toEqual(shared);
    const link = await teacherRoom.fileLink(shared.id);
    expect(await (await fetch(link.url)).text()).toBe("vocabulary list");
    await expect(studentRoom.uploadFile(new Blob(["MZ\x90\x00"]), "game.exe")).rejects.toMatchObject({ status: 415 });

    // The platform drops the teacher's connection (a message over its size limit); what the
    // student says meanwhile reaches the teacher's room after the reconnect, once, in order.
    const reconnected = next(teacher, "reconnected");
    const tokensBefore = tokensIssued();
    await teacher.requestCall({ language: "x".repeat(70_000) }).catch(() => undefined);
    expect(teacher.connectionState).toBe("reconnecting");
    await studentRoom.sendChat("Are you there?");
    await studentRoom.sendChat("I'll wait.");
    await reconnected;
    await until(() => teacherChat.length === 4);
    await teacherRoom.sendChat("Back!");
    await until(() => teacherChat.length === 5 && studentChat.length === 5);
    expect(seqs(teacherChat)).toEqual(["1:Hello!", "2:Shall we start?", "3:Are you there?", "4:I'll wait.", "5:Back!"]);
    expect(seqs(studentChat)).toEqual(seqs(teacherChat));
    expect(tokensIssued()).toBe(tokensBefore + 1); // the reconnect asked for a fresh token
    expect((await teacherRoom.catchUp()).messages).toEqual([]); // nothing new after seq 5

    await student.endCall(call.id);
    await teacher.setAvailability("offline");
  });

  it.each<RealtimeProtocol>(["json", "messagepack"])("reports the platform's refusals with their codes (%s)", async (protocol) => {
    const { client: teacher } = connect("teacher-olivia", "teacher", undefined, protocol);
    const { client: student } = connect("student-mia", "student", undefined, protocol);
    await Promise.all([teacher.start(), student.start()]);

    const unknownOffer = await teacher.acceptOffer("0195f4a0-0000-7000-8000-000000000000").catch((e: unknown) => e);
    expect(unknownOffer).toMatchObject({ name: "RealtimeError", code: "offer_not_found" });
    const notATeacher = await student.setAvailability("available").catch((e: unknown) => e);
    expect(notATeacher).toMatchObject({ code: "forbidden" });
  });

  it("rejects commands when stopped, and start fails for a token the platform refuses", async () => {
    const stopped = new CallernRealtime({ baseUrl: demo().baseUrl, accessToken: () => "not-a-token" });
    await expect(stopped.endCall("x")).rejects.toMatchObject({ code: "not_connected" });
    await expect(stopped.start()).rejects.toMatchObject({ code: "not_connected" });
    expect(stopped.connectionState).toBe("disconnected");
    expect(() => new CallernRealtime({ baseUrl: demo().baseUrl, accessToken: () => "t", protocol: "xml" as RealtimeProtocol })).toThrow(TypeError);
  });
});
