// The realtime client against the real platform that ./test.sh starts (CALLERN_DEMO). Each test
// uses its own demo student and teacher, so the tests do not ring each other's teachers.
import { afterEach, describe, expect, it } from "vitest";
import { CallernRealtime, CallState, createCallernApi, type RealtimeEvents, RealtimeError, type Signal } from "../src/index.js";
import { demo, mintToken } from "./demo.js";

const clients: CallernRealtime[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

function connect(userId: string, role: string, reconnectDelaysMs?: number[]): { client: CallernRealtime; tokensIssued: () => number } {
  let issued = 0;
  const client = new CallernRealtime({
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
    expect(call.state).toBe(CallState.Ringing);
    expect((await ringing).callId).toBe(call.id);
    const offer = await incoming;
    expect(offer).toMatchObject({ callId: call.id, student: { id: "student-ana", displayName: "Ana Souza" } });

    const studentAccepted = next(student, "callAccepted");
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

    const teacherRoom = teacher.room(call.id);
    expect(teacher.room(call.id)).toBe(teacherRoom);
    const received: Signal[] = [];
    teacherRoom.onSignal((s) => received.push(s));
    expect(received).toEqual(sent);

    const answered = new Promise<Signal>((resolve) => studentRoom.onSignal(resolve));
    await teacherRoom.send({ type: "description", description: { type: "answer", sdp: "v=0 answer" } });
    expect(await answered).toEqual({ type: "description", description: { type: "answer", sdp: "v=0 answer" } });
    expect((await studentRoom.refreshIceServers())[0]?.username).toMatch(/^\d+:/);

    const connected = Promise.all([next(student, "callConnected"), next(teacher, "callConnected")]);
    await studentRoom.reportMediaConnected();
    await teacherRoom.reportMediaConnected();
    const [studentConnected, teacherConnected] = await connected;
    expect(studentConnected.connectedAt).toBe(teacherConnected.connectedAt);

    const ended = Promise.all([next(student, "callEnded"), next(teacher, "callEnded")]);
    const summary = await student.endCall(call.id);
    expect(summary).toMatchObject({ id: call.id, state: CallState.Ended, endReason: "completed" });
    for (const e of await ended) expect(e).toMatchObject({ callId: call.id, reason: "completed", summary: { id: call.id } });

    const api = createCallernApi({ baseUrl: demo().baseUrl, accessToken: () => mintToken("student-ana", "student") });
    expect((await api.getCall(call.id)).state).toBe(CallState.Ended);
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

  it("reports the platform's refusals with their codes", async () => {
    const { client: teacher } = connect("teacher-olivia", "teacher");
    const { client: student } = connect("student-mia", "student");
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
  });
});
