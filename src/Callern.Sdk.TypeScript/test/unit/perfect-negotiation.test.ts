import { describe, expect, it } from "vitest";
import { PerfectNegotiation, type NegotiatingPeer } from "../../src/perfect-negotiation.js";
import type { NegotiationSignal } from "../../src/signaling.js";

/**
 * The signaling state machine of RTCPeerConnection, reduced to offers, answers and candidates:
 * operations run one after another on a chain (each taking a task, like the browser's), an offer
 * applied in have-local-offer rolls the local offer back (implicit rollback), a candidate needs a
 * remote description with its ICE username fragment, and anything the real one refuses throws.
 */
class FakePeer implements NegotiatingPeer {
  signalingState: RTCSignalingState = "stable";
  localDescription: { type: RTCSdpType; sdp: string } | null = null;
  remoteDescription: { type: RTCSdpType; sdp: string } | null = null;
  /** Every addIceCandidate call, applied or not. */
  readonly candidateCalls: RTCIceCandidateInit[] = [];
  readonly log: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private count = 0;

  constructor(readonly name: string) {}

  setLocalDescription(): Promise<void> {
    return this.op(() => {
      const n = ++this.count;
      if (this.signalingState === "stable") {
        this.localDescription = { type: "offer", sdp: `${this.name}-offer-${n}\na=ice-ufrag:${this.name}` };
        this.signalingState = "have-local-offer";
      } else if (this.signalingState === "have-remote-offer") {
        this.localDescription = { type: "answer", sdp: `${this.name}-answer-${n}\na=ice-ufrag:${this.name}` };
        this.signalingState = "stable";
      } else {
        throw new Error(`InvalidStateError: setLocalDescription in ${this.signalingState}`);
      }
    });
  }

  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.op(() => {
      if (description.type === "offer") {
        if (this.signalingState === "have-local-offer") this.log.push(`rolled back ${this.localDescription?.sdp.split("\n")[0]}`);
        else if (this.signalingState !== "stable") throw new Error(`InvalidStateError: offer in ${this.signalingState}`);
        this.signalingState = "have-remote-offer";
      } else if (description.type === "answer") {
        if (this.signalingState !== "have-local-offer") throw new Error(`InvalidStateError: answer in ${this.signalingState}`);
        this.signalingState = "stable";
      }
      this.remoteDescription = { type: description.type, sdp: description.sdp ?? "" };
      this.log.push(`applied ${description.sdp?.split("\n")[0]}`);
    });
  }

  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    this.candidateCalls.push(candidate);
    return this.op(() => {
      if (!this.remoteDescription) throw new Error("InvalidStateError: no remote description");
      if (candidate.usernameFragment && !this.remoteDescription.sdp.includes(`a=ice-ufrag:${candidate.usernameFragment}`)) {
        throw new Error("OperationError: unknown ufrag");
      }
      if (candidate.candidate?.includes("malformed")) throw new Error("OperationError: malformed candidate");
      this.log.push(`candidate ${candidate.candidate}`);
    });
  }

  private op(run: () => void): Promise<void> {
    const result = this.chain.then(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      run();
    });
    this.chain = result.catch(() => undefined);
    return result;
  }
}

/** One side of a call: a fake peer, its negotiation (opened: media attached) and the signals it sent (held until delivered). */
function side(name: string, polite: boolean, { open = true } = {}) {
  const peer = new FakePeer(name);
  const outbox: NegotiationSignal[] = [];
  const errors: unknown[] = [];
  const negotiation = new PerfectNegotiation(peer, {
    polite,
    send: async (signal) => {
      outbox.push(signal);
    },
    onError: (error) => errors.push(error),
  });
  if (open) negotiation.open();
  return { peer, outbox, errors, negotiation };
}

type Side = ReturnType<typeof side>;

/** Delivers everything `from` has sent so far to `to`, in order and without waiting in between, as the hub does. */
async function deliver(from: Side, to: Side): Promise<void> {
  const signals = from.outbox.splice(0);
  await Promise.all(signals.map((signal) => to.negotiation.receive(signal)));
}

/** Delivers both ways until nobody has anything left to send. */
async function settle(a: Side, b: Side): Promise<void> {
  while (a.outbox.length > 0 || b.outbox.length > 0) {
    await Promise.all([deliver(a, b), deliver(b, a)]);
  }
}

function kinds(signals: NegotiationSignal[]): string[] {
  return signals.map((s) => (s.type === "description" ? (s.description.type ?? "?") : s.type));
}

const candidate = (ufrag: string, text = "candidate:1 1 udp 1 127.0.0.1 50000 typ relay"): RTCIceCandidateInit => ({
  candidate: text,
  sdpMid: "0",
  usernameFragment: ufrag,
});

describe("perfect negotiation", () => {
  it("starts with one offer, from the impolite side only: both sides adding their media at once is no glare", async () => {
    const teacher = side("teacher", true);
    const student = side("student", false);

    // Both attach camera and microphone at the same moment: both browsers fire negotiationneeded.
    await Promise.all([teacher.negotiation.negotiate(), student.negotiation.negotiate()]);
    expect(kinds(teacher.outbox)).toEqual([]);
    expect(kinds(student.outbox)).toEqual(["offer"]);
    await settle(student, teacher);

    expect(student.negotiation.offerCount).toBe(1);
    expect(teacher.negotiation.offerCount).toBe(0);
    expect(teacher.peer.log).toEqual(["applied student-offer-1"]);
    expect(student.peer.log).toEqual(["applied teacher-answer-1"]);
    expect([teacher.peer.signalingState, student.peer.signalingState]).toEqual(["stable", "stable"]);
    expect([...teacher.errors, ...student.errors]).toEqual([]);
  });

  it("lets the polite side renegotiate once it has answered the first offer (a screen share)", async () => {
    const teacher = side("teacher", true);
    const student = side("student", false);
    await student.negotiation.negotiate();
    await settle(student, teacher);

    await teacher.negotiation.negotiate();
    expect(kinds(teacher.outbox)).toEqual(["offer"]);
    await settle(teacher, student);

    expect(teacher.negotiation.offerCount).toBe(1);
    expect(student.peer.remoteDescription?.sdp).toMatch(/^teacher-offer-2/);
    expect([...teacher.errors, ...student.errors]).toEqual([]);
  });

  it("holds an early offer until the owner opens it (media attached), then answers it", async () => {
    const teacher = side("teacher", true, { open: false });
    const student = side("student", false);
    await student.negotiation.negotiate();

    const delivered = deliver(student, teacher);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(teacher.peer.log).toEqual([]);
    expect(teacher.outbox).toEqual([]);

    teacher.negotiation.open();
    await delivered;
    expect(teacher.peer.log).toEqual(["applied student-offer-1"]);
    expect(kinds(teacher.outbox)).toEqual(["answer"]);
  });

  it("resolves glare of two renegotiations: the impolite side keeps its offer, the polite side rolls back and answers", async () => {
    const polite = side("polite", true);
    const impolite = side("impolite", false);
    await impolite.negotiation.negotiate();
    await settle(impolite, polite);

    // Both restart ICE at the same moment: both offer before either offer arrives.
    await Promise.all([polite.negotiation.negotiate(), impolite.negotiation.negotiate()]);
    expect([polite.peer.signalingState, impolite.peer.signalingState]).toEqual(["have-local-offer", "have-local-offer"]);
    await settle(polite, impolite);

    expect(polite.peer.log).toContain("rolled back polite-offer-2");
    expect(impolite.peer.log).not.toContain("applied polite-offer-2");
    expect(polite.peer.remoteDescription?.sdp).toMatch(/^impolite-offer-2/);
    expect([polite.peer.signalingState, impolite.peer.signalingState]).toEqual(["stable", "stable"]);
    expect([...polite.errors, ...impolite.errors]).toEqual([]);
  });

  it("drops the candidates of an ignored offer before addIceCandidate, though they arrive together with it", async () => {
    const polite = side("polite", true);
    const impolite = side("impolite", false);
    await impolite.negotiation.negotiate();
    await settle(impolite, polite);
    const callsBefore = impolite.peer.candidateCalls.length;
    await Promise.all([polite.negotiation.negotiate(), impolite.negotiation.negotiate()]);
    await polite.negotiation.sendCandidate(candidate("polite-restarted"));
    await polite.negotiation.sendCandidate(candidate("polite-restarted", "candidate:2 1 udp 1 127.0.0.1 50002 typ relay"));

    // Offer and candidates delivered back to back, not awaited one by one.
    await deliver(polite, impolite);

    expect(impolite.negotiation.ignoringOffer).toBe(true);
    expect(impolite.peer.candidateCalls.length).toBe(callsBefore);
    expect(impolite.negotiation.droppedCandidates).toBe(2);
    expect(impolite.errors).toEqual([]);
  });

  it("applies candidates in order right behind their description, even when delivered without waiting", async () => {
    const teacher = side("teacher", true);
    const student = side("student", false);
    await student.negotiation.negotiate();
    await student.negotiation.sendCandidate(candidate("student"));

    await deliver(student, teacher);

    expect(teacher.peer.log).toEqual(["applied student-offer-1", "candidate candidate:1 1 udp 1 127.0.0.1 50000 typ relay"]);
    expect(teacher.errors).toEqual([]);
  });

  it("drops candidates left over from a peer connection the peer replaced (before any description, or another ufrag)", async () => {
    const teacher = side("teacher", true);
    const student = side("student", false);
    await teacher.negotiation.receive({ type: "candidate", candidate: candidate("old-student") });
    await student.negotiation.negotiate();
    await settle(student, teacher);

    await teacher.negotiation.receive({ type: "candidate", candidate: candidate("old-student") });

    expect(teacher.peer.candidateCalls).toEqual([]);
    expect(teacher.negotiation.droppedCandidates).toBe(2);
    expect(teacher.errors).toEqual([]);
  });

  it("reports a current candidate the browser refuses", async () => {
    const teacher = side("teacher", true);
    const student = side("student", false);
    await student.negotiation.negotiate();
    await settle(student, teacher);

    await teacher.negotiation.receive({ type: "candidate", candidate: candidate("student", "candidate:malformed") });

    expect(teacher.errors).toHaveLength(1);
    expect(String(teacher.errors[0])).toContain("malformed candidate");
  });

  it("accepts an offer queued right behind the answer it is still applying", async () => {
    const impolite = side("impolite", false);
    const polite = side("polite", true);
    await impolite.negotiation.negotiate();
    await deliver(impolite, polite); // the polite side answers...
    await polite.negotiation.negotiate(); // ...and at once starts its own renegotiation (screen share)
    expect(kinds(polite.outbox)).toEqual(["answer", "offer"]);

    // Answer and new offer reach the impolite side back to back: the offer must not count as glare.
    await deliver(polite, impolite);
    await settle(impolite, polite);

    expect(impolite.peer.log).toEqual(["applied polite-answer-1", "applied polite-offer-2"]);
    expect(polite.peer.remoteDescription?.sdp).toMatch(/^impolite-answer-2/);
    expect([impolite.peer.signalingState, polite.peer.signalingState]).toEqual(["stable", "stable"]);
    expect([...polite.errors, ...impolite.errors]).toEqual([]);
  });

  it("does nothing more once closed (the peer connection is being replaced)", async () => {
    const teacher = side("teacher", true);
    const student = side("student", false);
    await student.negotiation.negotiate();
    teacher.negotiation.close();

    await deliver(student, teacher);

    expect(teacher.peer.log).toEqual([]);
    expect(teacher.outbox).toEqual([]);
    expect(teacher.errors).toEqual([]);
  });
});
