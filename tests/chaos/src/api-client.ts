import { sleep } from './clock.ts';

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** No HTTP answer at all: the api was down, killed mid-request, or too slow. */
export class NoAnswer extends Error {
  override readonly name = 'NoAnswer';
}

/** One tenant's view of the api, with its bearer key. */
export class ApiClient {
  readonly tenant: string;
  readonly #baseUrl: string;
  readonly #key: string;

  constructor(baseUrl: string, tenant: string, key: string) {
    this.#baseUrl = baseUrl;
    this.tenant = tenant;
    this.#key = key;
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = 5_000,
  ) {
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new NoAnswer(error instanceof Error ? error.message : String(error));
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { raw: text };
    }
    const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    return { status: response.status, body: record } satisfies Answer;
  }

  /**
   * A CTP operation request as a careful client sends it: with an `Idempotency-Key`, and when no
   * answer came back (the api was killed mid-request), sent again with the same key until one
   * does, so an operation the api recorded before dying is learnt, not started twice.
   */
  async operation(
    method: string,
    path: string,
    body: unknown,
    idempotencyKey: string,
    patienceMs = 20_000,
  ): Promise<Answer & { readonly resent: number }> {
    const deadline = Date.now() + patienceMs;
    for (let resent = 0; ; resent++) {
      try {
        const answer = await this.call(method, path, body, { 'idempotency-key': idempotencyKey });
        return { ...answer, resent };
      } catch (error) {
        if (!(error instanceof NoAnswer) || Date.now() > deadline) throw error;
        await sleep(300);
      }
    }
  }
}
