import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { say, sleep, waitUntil } from './clock.ts';
import { addFinding } from './findings.ts';
import { LogCapture } from './log-capture.ts';

export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly logDir: string;
  /** Resolves true once the process serves; polled after every start. */
  readonly ready?: () => Promise<boolean>;
  /** Or: ready once it has written a line matching this since its latest start. */
  readonly readyLine?: RegExp;
  readonly readyTimeoutMs?: number;
}

const everyProcess: SupervisedProcess[] = [];

/** Every process the suite created, for a last SIGKILL when the suite itself fails or is interrupted. */
export function killAllNow(): void {
  for (const p of everyProcess) p.abandon();
}

/**
 * A child process the suite kills at will and keeps alive otherwise. An exit the suite did not
 * cause (a crash, a process giving up when Redis or PostgreSQL went away) is a finding, and the
 * process is started again, as a process supervisor (systemd, Kubernetes) would.
 */
export class SupervisedProcess {
  readonly spec: ProcessSpec;
  readonly log: LogCapture;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #expectExit = false;
  #stopped = false;
  #sawReadyLine = false;
  starts = 0;
  kills = 0;
  unexpectedExits = 0;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
    this.log = new LogCapture(join(spec.logDir, `${spec.name}.log`));
    everyProcess.push(this);
  }

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process and waits until it is ready; a process that is not ready in time is a finding. */
  async start(): Promise<void> {
    this.#spawn();
    await this.waitReady();
  }

  /**
   * Waits until this start of the process serves. A process that dies meanwhile was already
   * reported by its exit (and restarted); only one that lives but does not serve is a finding here.
   */
  async waitReady(): Promise<boolean> {
    const child = this.#child;
    const timeoutMs = this.spec.readyTimeoutMs ?? 30_000;
    const probe = this.spec.ready ?? (async () => this.#sawReadyLine);
    let died = false;
    const ok = await waitUntil(async () => {
      died = this.#child !== child;
      return died || (await probe());
    }, timeoutMs);
    if (died) return false;
    if (!ok) addFinding(`${this.name} was not ready ${timeoutMs} ms after its start`);
    return ok;
  }

  /** SIGKILL and no restart: the suite is giving up. */
  abandon(): void {
    this.#stopped = true;
    this.#child?.kill('SIGKILL');
  }

  /** SIGKILL: nothing of the process's shutdown runs. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#expectExit = true;
    this.kills += 1;
    say(`SIGKILL ${this.name} (pid ${child.pid})`);
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** Ends the process by `how` (e.g. `redis-cli shutdown`); one still alive after `graceMs` is a finding, and SIGKILLed. */
  async stopBy(how: () => Promise<void>, graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#expectExit = true;
    await how();
    const exited = await Promise.race([this.#exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (exited) return;
    addFinding(`${this.name} (pid ${child.pid}) was still running ${graceMs} ms after it was asked to stop`);
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** Graceful end of the run: SIGTERM, SIGKILL after `graceMs`; no restart. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopped = true;
    const child = this.#child;
    if (child !== undefined) {
      this.#expectExit = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
    await this.log.close();
  }

  #spawn(): void {
    this.starts += 1;
    this.#expectExit = false;
    this.#sawReadyLine = false;
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const onLine = (line: string) => {
      if (this.spec.readyLine?.test(line)) this.#sawReadyLine = true;
    };
    this.log.follow(child.stdout, onLine);
    this.log.follow(child.stderr, onLine);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#child = undefined;
        resolve();
        if (this.#expectExit || this.#stopped) return;
        this.unexpectedExits += 1;
        addFinding(
          `${this.name} (pid ${child.pid}) exited by itself with ${signal ?? `code ${code}`}; restarting it`,
          this.log.recent(),
        );
        void sleep(500).then(() => {
          if (!this.#stopped && this.#child === undefined) void this.start();
        });
      });
    });
  }
}
