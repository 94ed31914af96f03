import { createLogger } from '@ctp/core/logging';
import { startHttpServer } from '@ctp/core/runtime';
import { createSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';

/**
 * A simulator on 127.0.0.1 and a free port, for tests of this app and of other packages
 * (`@ctp/saas-sim/testing`). Defaults suit tests: a short completion delay, redeliveries
 * within a fraction of a second, no webhook URL unless given, a silent logger.
 */

export { manualClock, seededRandom } from './clock.ts';
export type { Faults, FaultsInput } from './faults.ts';
export type { NetworkChangeAnswer, Simulator, SimulatorOptions, SimulatorState } from './simulator.ts';

export const TEST_API_KEY = 'test-saas-api-key-0123456789';
export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.from('test-webhook-secret-32-bytes-long!').toString('base64')}`;
export const TEST_TENANTS = ['ENBDTABBY', 'DEMOBANK'] as const;

export const TEST_DEFAULTS = {
  apiKey: TEST_API_KEY,
  webhookSecret: TEST_WEBHOOK_SECRET,
  webhookUrl: null,
  tenants: TEST_TENANTS,
  completionDelayMs: 30,
  redeliveryDelaysMs: [20, 40, 80, 160, 320],
  webhookTimeoutMs: 2_000,
} as const satisfies Partial<SimulatorOptions>;

export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly simulator: Simulator;
  /** The options it was built with (API key, secret, tenants, ...). */
  readonly options: SimulatorOptions;
  close(): Promise<void>;
}

export async function startSimulator(partial: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const options: SimulatorOptions = {
    ...TEST_DEFAULTS,
    logger: createLogger({ name: 'saas-sim', level: 'silent' }),
    ...partial,
  };
  const simulator = createSimulator(options);
  const server = await startHttpServer(simulator.app, {
    port: 0,
    hostname: '127.0.0.1',
    logger: options.logger,
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    simulator,
    options,
    // Timers and deliveries first, so no in-flight request waits on a webhook while the server drains.
    close: async () => {
      await simulator.close();
      await server.close();
    },
  };
}
