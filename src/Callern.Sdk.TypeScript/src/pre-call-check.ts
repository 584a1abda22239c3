/** What to test before joining a call. */
export interface PreCallCheckOptions {
  /** The ICE servers from the platform; the TURN test allocates a relay through them. */
  iceServers: RTCIceServer[];
  /** Camera constraints, or false to skip the camera test. Default: true. */
  camera?: boolean | MediaTrackConstraints;
  /** Microphone constraints, or false to skip the microphone test. Default: true. */
  microphone?: boolean | MediaTrackConstraints;
  /** How long to listen to the microphone for the level meter, in ms. Default: 1000. */
  microphoneSampleMs?: number;
  /** How long to wait for a TURN relay candidate, in ms. Default: 10000. */
  turnTimeoutMs?: number;
}

/** The result of one device test. */
export interface DeviceCheck {
  /** The device opened and delivers a live track (always false when skipped). */
  ok: boolean;
  /** The test was not requested. */
  skipped: boolean;
  /** The device's label, for example "FaceTime HD Camera". */
  label: string | null;
  /** Why it failed (the browser's error name and message). */
  error: string | null;
}

/** The result of the camera test. */
export interface CameraCheck extends DeviceCheck {
  /** Capture width in pixels. */
  width: number | null;
  /** Capture height in pixels. */
  height: number | null;
}

/** The result of the microphone test. */
export interface MicrophoneCheck extends DeviceCheck {
  /**
   * The loudest short-term RMS level heard while listening, 0 (silence) to 1 (full scale).
   * Speech close to a working microphone is typically above 0.02; exactly 0 usually means a
   * muted or disconnected input.
   */
  level: number;
}

/** The result of the TURN allocation test. */
export interface TurnCheck {
  /** A relay candidate was allocated: calls can go through TURN from this network. */
  ok: boolean;
  /** The relayed transport address, `ip:port`. */
  relayAddress: string | null;
  /** Time from start until the relay candidate (or the failure), in ms. */
  elapsedMs: number;
  /** Why no relay was allocated (TURN errors, such as `401` for bad credentials, or a timeout). */
  error: string | null;
}

/** The pre-call check's report. */
export interface PreCallReport {
  /** Every requested test passed. */
  ok: boolean;
  /** Camera test result. */
  camera: CameraCheck;
  /** Microphone test result. */
  microphone: MicrophoneCheck;
  /** TURN test result. */
  turn: TurnCheck;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Tests, before a call, what the call will need: the camera, the microphone (with a level
 * meter reading) and a TURN allocation through the platform's ICE servers. Every device and
 * connection it opens is closed before {@link PreCallCheck.run} resolves.
 *
 * ```ts
 * const report = await new PreCallCheck({ iceServers }).run();
 * if (!report.turn.ok) showHint(report.turn.error);
 * ```
 */
export class PreCallCheck {
  /** Prepares a check; nothing is opened until {@link PreCallCheck.run}. */
  constructor(private readonly options: PreCallCheckOptions) {}

  /** Runs the device tests and the TURN test (in parallel with them) and returns the report. */
  async run(): Promise<PreCallReport> {
    const turn = this.checkTurn();
    const camera = await this.checkCamera();
    const microphone = await this.checkMicrophone();
    const report = { camera, microphone, turn: await turn };
    return {
      ok: (camera.ok || camera.skipped) && (microphone.ok || microphone.skipped) && report.turn.ok,
      ...report,
    };
  }

  /** Opens the camera once and reports its label and resolution. */
  async checkCamera(): Promise<CameraCheck> {
    const constraints = this.options.camera ?? true;
    if (constraints === false) return { ok: false, skipped: true, label: null, error: null, width: null, height: null };
    let stream: MediaStream | null = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: constraints });
      const track = stream.getVideoTracks()[0];
      const settings = track?.getSettings();
      return {
        ok: track?.readyState === "live",
        skipped: false,
        label: track?.label ?? null,
        error: track ? null : "no video track",
        width: settings?.width ?? null,
        height: settings?.height ?? null,
      };
    } catch (error) {
      return { ok: false, skipped: false, label: null, error: describeError(error), width: null, height: null };
    } finally {
      for (const track of stream?.getTracks() ?? []) track.stop();
    }
  }

  /** Opens the microphone and listens for a moment, reporting the loudest level heard. */
  async checkMicrophone(): Promise<MicrophoneCheck> {
    const constraints = this.options.microphone ?? true;
    if (constraints === false) return { ok: false, skipped: true, label: null, error: null, level: 0 };
    let stream: MediaStream | null = null;
    let context: AudioContext | null = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
      const track = stream.getAudioTracks()[0];
      if (!track) return { ok: false, skipped: false, label: null, error: "no audio track", level: 0 };
      context = new AudioContext();
      // A context created without a user gesture may start suspended; the meter needs it running.
      await context.resume();
      const analyser = context.createAnalyser();
      analyser.fftSize = 2048;
      context.createMediaStreamSource(stream).connect(analyser);
      const level = await this.peakLevel(analyser, this.options.microphoneSampleMs ?? 1000);
      return { ok: track.readyState === "live", skipped: false, label: track.label, error: null, level };
    } catch (error) {
      return { ok: false, skipped: false, label: null, error: describeError(error), level: 0 };
    } finally {
      for (const track of stream?.getTracks() ?? []) track.stop();
      await context?.close();
    }
  }

  /**
   * Gathers candidates with `iceTransportPolicy: "relay"`, so only TURN allocations can
   * produce one: a `relay` candidate proves the credentials and the path to TURN both work.
   */
  async checkTurn(): Promise<TurnCheck> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const pc = new RTCPeerConnection({ iceServers: this.options.iceServers, iceTransportPolicy: "relay" });
    const errors: string[] = [];
    try {
      const result = new Promise<TurnCheck>((resolve) => {
        const timer = setTimeout(
          () => resolve({ ok: false, relayAddress: null, elapsedMs: elapsed(), error: ["timed out", ...errors].join("; ") }),
          this.options.turnTimeoutMs ?? 10_000,
        );
        pc.addEventListener("icecandidateerror", (event) => {
          errors.push(`${event.errorCode} ${event.errorText} (${event.url})`);
        });
        pc.addEventListener("icecandidate", (event) => {
          const candidate = event.candidate;
          if (candidate?.type === "relay") {
            clearTimeout(timer);
            resolve({
              ok: true,
              relayAddress: `${candidate.address ?? "?"}:${candidate.port ?? "?"}`,
              elapsedMs: elapsed(),
              error: null,
            });
          } else if (candidate === null) {
            // Gathering finished without any relay candidate.
            clearTimeout(timer);
            resolve({
              ok: false,
              relayAddress: null,
              elapsedMs: elapsed(),
              error: errors.length > 0 ? errors.join("; ") : "no relay candidate (is a TURN server among the ICE servers?)",
            });
          }
        });
      });
      // Something to negotiate, or the browser gathers nothing at all.
      pc.createDataChannel("pre-call-check");
      await pc.setLocalDescription(await pc.createOffer());
      return await result;
    } catch (error) {
      return { ok: false, relayAddress: null, elapsedMs: elapsed(), error: describeError(error) };
    } finally {
      pc.close();
    }
  }

  private async peakLevel(analyser: AnalyserNode, durationMs: number): Promise<number> {
    const samples = new Float32Array(analyser.fftSize);
    let peak = 0;
    const until = performance.now() + durationMs;
    while (performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      peak = Math.max(peak, Math.sqrt(sum / samples.length));
    }
    return peak;
  }
}
