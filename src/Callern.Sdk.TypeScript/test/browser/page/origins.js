// A school's page on its own origin, calling the platform directly (cross-origin, so CORS and the
// platform's origin check apply), as an embedding school's web app does. Driven by
// test/browser/origins.test.ts through window.originHarness; every answer is JSON.
import { CallernRealtime, createCallernApi } from "/sdk/index.js";

function describe(error) {
  return { name: error?.name ?? null, code: error?.code ?? null, message: String(error?.message ?? error) };
}

window.originHarness = {
  /** Signs in with the token the school's backend minted and reads the student's wallet over REST. */
  async readWallet(baseUrl, token) {
    try {
      const wallet = await createCallernApi({ baseUrl, accessToken: () => token }).getMyWallet();
      return { ok: true, availableSeconds: wallet.availableSeconds };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  },
  /** Connects to the hub with the same token, then disconnects. */
  async connect(baseUrl, token) {
    const realtime = new CallernRealtime({ baseUrl, accessToken: () => token });
    try {
      await realtime.start();
      const state = realtime.connectionState;
      await realtime.stop();
      return { ok: true, state };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  },
};
window.originHarnessReady = true;
