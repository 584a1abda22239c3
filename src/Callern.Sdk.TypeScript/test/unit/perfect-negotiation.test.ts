import { describe, expect, it } from "vitest";
import { PerfectNegotiation, type NegotiatingPeer } from "../../src/perfect-negotiation.js";
import type { Signal } from "../../src/signaling.js";

/**
 * The signaling state machine of RTCPeerConnection, reduced to offers and answers: operations
 * run one after another on a chain (each taking a task, like the browser's), an offer applied
 * in have-local-offer rolls the local offer back (implicit rollback), and anything the real
 * one refuses throws InvalidStateError.
 */
class FakePeer implements NegotiatingPeer {
  signalingState: RTCSignalingState = "stable";
  localDescription: { type: RTCSdpType; sdp: string } | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  readonly candidates: RTCIceCandidateInit[] = [];
  readonly log: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private count = 0;

  constructor(private readonly name: string) {}

  setLocalDescription(): Promise<void> {
    return this.op(() => {
      if (this.signalingState === "stable") {
        this.localDescription = { type: "offer", sdp: `${this.name}-offer-${++this.count}` };
        this.signalingState = "have-local-offer";
      } else if (this.signalingState === "have-remote-offer") {
        this.localDescription = { type: "answer", sdp: `${this.name}-answer-${++this.count}` };
        this.signalingState = "stable";
      } else {
        throw new Error(`InvalidStateError: setLocalDescription in ${this.signalingState}`);
      }
    });
  }

  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.op(() => {
      if (description.type === "offer") {
        if (this.signalingState === "have-local-offer") this.log.push(`rolled back ${this.localDescription?.sdp}`);
        else if (this.signalingState !== "stable") throw new Error(`InvalidStateError: offer in ${this.signalingState}`);
        this.signalingState = "have-remote-offer";
      } else if (description.type === "answer") {
        if (this.signalingState !== "have-local-offer") throw new Error(`InvalidStateError: answer in ${this.signalingState}`);
        this.signalingState = "stable";
      }
      this.remoteDescription = description;
      this.log.push(`applied ${description.sdp}`);
    });
  }

  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    return this.op(() => {
      if (!this.remoteDescription) throw new Error("InvalidStateError: no remote description");
      this.candidates.push(candidate);
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

/** One side of a call: a fake peer, its negotiation and the signals it sent (held until delivered). */
function side(name: string, polite: boolean) {
  const peer = new FakePeer(name);
  const outbox: Signal[] = [];
  const errors: unknown[] = [];
  const negotiation = new PerfectNegotiation(peer, {
    polite,
    send: async (signal) => {
      outbox.push(signal);
    },
    onError: (error) => errors.push(error),
  });
  return { peer, outbox, errors, negotiation };
}

type Side = ReturnType<typeof side>;

/** Delivers everything `from` has sent so far to `to`, in order and without waiting in between, as a relay would. */
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

describe("perfect negotiation", () => {
  it("connects a plain offer and answer", async () => {
    const student = side("student", true);
    const teacher = side("teacher", false);

    await teacher.negotiation.negotiate();
    await settle(teacher, student);

    expect(teacher.peer.signalingState).toBe("stable");
    expect(student.peer.signalingState).toBe("stable");
    expect(student.peer.remoteDescription?.sdp).toBe("teacher-offer-1");
    expect(teacher.peer.remoteDescription?.sdp).toBe("student-answer-1");
    expect([...student.errors, ...teacher.errors]).toEqual([]);
  });

  it("resolves glare: the impolite side keeps its offer, the polite side rolls back and answers", async () => {
    const polite = side("polite", true);
    const impolite = side("impolite", false);

    // Both add a track at the same moment: both offer before either offer arrives.
    await Promise.all([polite.negotiation.negotiate(), impolite.negotiation.negotiate()]);
    expect(polite.peer.signalingState).toBe("have-local-offer");
    expect(impolite.peer.signalingState).toBe("have-local-offer");
    await settle(polite, impolite);

    expect(polite.peer.log).toContain("rolled back polite-offer-1");
    expect(impolite.peer.log).not.toContain("applied polite-offer-1");
    expect(polite.peer.remoteDescription?.sdp).toBe("impolite-offer-1");
    expect(impolite.peer.remoteDescription?.sdp).toBe("polite-answer-2");
    expect(polite.peer.signalingState).toBe("stable");
    expect(impolite.peer.signalingState).toBe("stable");
    expect([...polite.errors, ...impolite.errors]).toEqual([]);
  });

  it("drops candidates of an ignored offer without reporting an error", async () => {
    const polite = side("polite", true);
    const impolite = side("impolite", false);
    await Promise.all([polite.negotiation.negotiate(), impolite.negotiation.negotiate()]);
    await polite.negotiation.sendCandidate({ candidate: "candidate:1 1 udp 1 127.0.0.1 50000 typ relay", sdpMid: "0" });

    // The impolite side has no remote description yet, so the polite candidate cannot apply.
    await deliver(polite, impolite);

    expect(impolite.negotiation.ignoringOffer).toBe(true);
    expect(impolite.peer.candidates).toEqual([]);
    expect(impolite.errors).toEqual([]);
  });

  it("reports a candidate that cannot be applied outside a collision", async () => {
    const polite = side("polite", true);

    await polite.negotiation.receive({ type: "candidate", candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 50000 typ relay", sdpMid: "0" } });

    expect(polite.errors).toHaveLength(1);
    expect(String(polite.errors[0])).toContain("no remote description");
  });

  it("accepts an offer queued right behind the answer it is still applying (isSettingRemoteAnswerPending)", async () => {
    const impolite = side("impolite", false);
    const polite = side("polite", true);
    await impolite.negotiation.negotiate();
    await deliver(impolite, polite); // the polite side answers...
    await polite.negotiation.negotiate(); // ...and at once starts its own renegotiation (screen share)
    expect(polite.outbox.map((s) => (s.type === "description" ? s.description.type : s.type))).toEqual(["answer", "offer"]);

    // Answer and new offer reach the impolite side back to back: the offer must not count as glare.
    await deliver(polite, impolite);
    await settle(impolite, polite);

    expect(impolite.peer.log).toEqual(["applied polite-answer-1", "applied polite-offer-2"]);
    expect(polite.peer.remoteDescription?.sdp).toBe("impolite-answer-2");
    expect(impolite.peer.signalingState).toBe("stable");
    expect(polite.peer.signalingState).toBe("stable");
    expect([...polite.errors, ...impolite.errors]).toEqual([]);
  });
});
