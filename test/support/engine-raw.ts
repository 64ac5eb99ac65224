// dist/engine.js spoken to frame by frame, without vscode-jsonrpc: for tests that send what a
// well-behaved client never would (bad frames, repeated ids, positional params).
import { spawn, type ChildProcess } from 'node:child_process';

/** How long a test waits for one answer. */
const ANSWER_TIMEOUT_MS = 30_000;

export interface RpcReply {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  result?: any;
  error?: { code: number; message: string; data?: unknown };
}

export class EngineProcess {
  private readonly child: ChildProcess;
  private buffer = Buffer.alloc(0);
  private readonly messages: RpcReply[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly replyCounts = new Map<unknown, number>();
  private readonly exited: Promise<number | null>;
  private nextId = 1;
  lastId: number | string = 0;
  stderr = '';

  constructor(enginePath: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [enginePath, '--provider', 'cpu'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk));
    this.child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())![1]);
      if (this.buffer.length < end + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString('utf8')) as RpcReply;
      this.buffer = this.buffer.subarray(end + 4 + length);
      if (message.method === undefined) this.replyCounts.set(message.id, (this.replyCounts.get(message.id) ?? 0) + 1);
      this.messages.push(message);
      for (const w of this.waiters.splice(0)) w();
    }
  }

  writeRaw(text: string | Buffer): void {
    this.child.stdin!.write(text);
  }

  private frame(message: unknown): void {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.writeRaw(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  /** Sends a message and resolves with the first reply carrying its id (log notifications are skipped). */
  send(message: { id?: unknown; [key: string]: unknown }): Promise<RpcReply> {
    const seen = this.messages.length;
    this.frame(message);
    return this.waitFor((m, i) => i >= seen && m.method === undefined && m.id === message.id, seen);
  }

  request(method: string, params: unknown): Promise<RpcReply> {
    const id = this.nextId++;
    this.lastId = id;
    return this.send({ jsonrpc: '2.0', id, method, params });
  }

  notify(method: string, params: unknown): void {
    this.frame({ jsonrpc: '2.0', method, params });
  }

  /** The next message that is not a notification. */
  nextMessage(): Promise<RpcReply> {
    return this.waitFor((m) => m.method === undefined, 0);
  }

  repliesFor(id: unknown): number {
    return this.replyCounts.get(id) ?? 0;
  }

  private waitFor(match: (m: RpcReply, index: number) => boolean, from: number): Promise<RpcReply> {
    const claimed = new Set<RpcReply>();
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.messages.length; i++) {
          const m = this.messages[i]!;
          if (!claimed.has(m) && match(m, i)) {
            claimed.add(m);
            this.messages.splice(i, 1, { method: '(consumed)' });
            return resolve(m);
          }
        }
        this.waiters.push(check);
      };
      void this.exited.then(() => setTimeout(() => reject(new Error(`the engine exited without answering; stderr: ${this.stderr}`)), 50));
      // A test must fail, not hang, when the engine never answers.
      setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms; stderr: ${this.stderr.slice(-2000)}`)), ANSWER_TIMEOUT_MS).unref();
      check();
    });
  }

  exitCode(): Promise<number | null> {
    return this.exited;
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
