/**
 * The engine's end of the stdio transport, guarded against a client that sends anything at all.
 * vscode-jsonrpc's own reader, after one malformed frame, stays alive and never answers again,
 * and it lets through messages that get no reply (no method) or two replies (a repeated id).
 * This reader frames `Content-Length` messages itself and:
 *  - on a framing error (no or bad Content-Length, a frame over MAX_FRAME_BYTES, a header that
 *    never ends, a body that is not JSON) answers with a JSON-RPC parse error (-32700, id null)
 *    and calls `onFatal`: the engine then exits and the client starts a fresh one;
 *  - answers a message that is not a request, notification or response (not an object, a
 *    batch, a bad id, an id without method) with -32600 (InvalidRequest);
 *  - answers a request whose id is already in flight with -32600, so every id gets one reply;
 *  - answers positional params (a list) with -32602: every method takes its params by name;
 *  - drops `$/` notifications other than a well-formed `$/cancelRequest` (vscode-jsonrpc reads them unchecked).
 * Everything else goes to the connection, which answers unknown methods itself.
 */
import { AbstractMessageReader, ErrorCodes, type DataCallback, type Disposable, type Message, type MessageWriter } from 'vscode-jsonrpc/node';
import type { Readable } from 'node:stream';

/** The largest frame accepted: far above any real request (a prompt is at most MAX_REQUEST_TEXT). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
const MAX_HEADER_BYTES = 8192;
const HEADER_END = Buffer.from('\r\n\r\n', 'ascii');

type Id = string | number;

export class GuardedMessageReader extends AbstractMessageReader {
  private chunks: Buffer[] = [];
  private received = 0;
  private bodyLength = -1;
  private failed = false;
  /** Ids of requests not answered yet, as strings: vscode-jsonrpc keys its requests by String(id), so 12 and "12" collide. */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly input: Readable,
    private readonly writer: MessageWriter,
    /** Called after a framing error, once the parse error has been written. */
    private readonly onFatal: (reason: string) => void,
  ) {
    super();
  }

  /** A writer that forgets an id once its response is written (pass it to createMessageConnection). */
  trackingWriter(): MessageWriter {
    const inner = this.writer;
    const inFlight = this.inFlight;
    return {
      onError: inner.onError,
      onClose: inner.onClose,
      write(message: Message) {
        const m = message as { id?: unknown; method?: unknown };
        if (m.method === undefined && (typeof m.id === 'string' || typeof m.id === 'number')) inFlight.delete(String(m.id));
        return inner.write(message);
      },
      end: () => inner.end(),
      dispose: () => inner.dispose(),
    };
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer | string) => this.onData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, callback);
    const onEnd = () => this.fireClose();
    const onError = (e: Error) => this.fireError(e);
    this.input.on('data', onData);
    this.input.on('end', onEnd);
    this.input.on('close', onEnd);
    this.input.on('error', onError);
    return {
      dispose: () => {
        this.input.off('data', onData);
        this.input.off('end', onEnd);
        this.input.off('close', onEnd);
        this.input.off('error', onError);
      },
    };
  }

  private reply(id: Id | null, code: number, message: string): Promise<void> {
    return this.writer.write({ jsonrpc: '2.0', id, error: { code, message } } as Message).catch(() => undefined);
  }

  private fatal(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.chunks = [];
    this.received = 0;
    void this.reply(null, ErrorCodes.ParseError, `Parse error: ${reason}; the engine stops (a fresh one starts with the next request).`).then(() => this.onFatal(reason));
  }

  private onData(chunk: Buffer, callback: DataCallback): void {
    if (this.failed) return;
    // Chunks are joined once a whole frame is there: joining on every chunk would copy a large
    // message over and over (quadratic in its size).
    this.chunks.push(chunk);
    this.received += chunk.length;
    for (;;) {
      if (this.bodyLength < 0) {
        const buffer = this.take(this.received);
        const end = buffer.indexOf(HEADER_END);
        if (end < 0) {
          this.chunks = [buffer];
          if (buffer.length > MAX_HEADER_BYTES) this.fatal('a message header without its end (\\r\\n\\r\\n)');
          return;
        }
        const length = parseHeader(buffer.subarray(0, end).toString('ascii'));
        if (typeof length === 'string') return this.fatal(length);
        this.bodyLength = length;
        const rest = buffer.subarray(end + HEADER_END.length);
        this.chunks = rest.length ? [rest] : [];
        this.received = rest.length;
      }
      if (this.received < this.bodyLength) return;
      const all = this.take(this.received);
      const body = all.subarray(0, this.bodyLength).toString('utf8');
      const rest = all.subarray(this.bodyLength);
      this.chunks = rest.length ? [rest] : [];
      this.received = rest.length;
      this.bodyLength = -1;
      let message: unknown;
      try {
        message = JSON.parse(body);
      } catch (e) {
        return this.fatal(`the message is not JSON (${(e as Error).message})`);
      }
      this.dispatch(message, callback);
      if (this.failed || this.received === 0) return;
    }
  }

  /** The received chunks as one buffer (of `length` bytes). */
  private take(length: number): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, length);
  }

  private dispatch(message: unknown, callback: DataCallback): void {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      return void this.reply(null, ErrorCodes.InvalidRequest, `Invalid request: ${Array.isArray(message) ? 'batches are not supported' : 'a message must be a JSON object'}`);
    }
    const m = message as Record<string, unknown>;
    const hasId = 'id' in m;
    const id = m.id;
    if (hasId && id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
      return void this.reply(null, ErrorCodes.InvalidRequest, "Invalid request: 'id' must be a string or a number");
    }
    const replyId = (hasId ? id : null) as Id | null;
    if (m.jsonrpc !== '2.0') return hasId ? void this.reply(replyId, ErrorCodes.InvalidRequest, "Invalid request: 'jsonrpc' must be \"2.0\"") : undefined;
    if (m.method === undefined) {
      // A response (to a request the engine never sends) is ignored; anything else with an id is answered.
      if ('result' in m || 'error' in m) return;
      return hasId ? void this.reply(replyId, ErrorCodes.InvalidRequest, "Invalid request: 'method' is missing") : undefined;
    }
    if (typeof m.method !== 'string') return hasId ? void this.reply(replyId, ErrorCodes.InvalidRequest, "Invalid request: 'method' must be a string") : undefined;
    if ('params' in m && m.params !== undefined && m.params !== null && (typeof m.params !== 'object' || Array.isArray(m.params))) {
      return hasId ? void this.reply(replyId, ErrorCodes.InvalidParams, `${m.method}: params must be an object (by name), not a list or a value`) : undefined;
    }
    if (!hasId && m.method.startsWith('$/')) {
      // vscode-jsonrpc reads these notifications' params unchecked (a $/cancelRequest without an id
      // throws in its reader). The engine needs only a well-formed $/cancelRequest.
      const params = m.params as { id?: unknown } | null | undefined;
      if (m.method !== '$/cancelRequest' || !params || (typeof params.id !== 'string' && typeof params.id !== 'number')) return;
    }
    if (hasId && id !== null) {
      if (this.inFlight.has(String(id))) return void this.reply(id as Id, ErrorCodes.InvalidRequest, `Invalid request: id ${JSON.stringify(id)} is already in use by a request still running`);
      this.inFlight.add(String(id));
    } else if (hasId) {
      return void this.reply(null, ErrorCodes.InvalidRequest, "Invalid request: 'id' must not be null");
    }
    callback(m as unknown as Message);
  }
}

/** The body length of a header block, or why the header is bad. */
function parseHeader(header: string): number | string {
  let length: number | undefined;
  for (const line of header.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return `a header line without a name (${JSON.stringify(line.slice(0, 40))})`;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,12}$/.test(value)) return `a bad Content-Length (${JSON.stringify(value.slice(0, 40))})`;
      length = Number(value);
    } else if (name === 'content-type') {
      if (!/charset=utf-?8/i.test(value) && /charset=/i.test(value)) return `an unsupported charset (${JSON.stringify(value.slice(0, 60))})`;
    }
  }
  if (length === undefined) return 'a message without Content-Length';
  if (length > MAX_FRAME_BYTES) return `a message of ${length} bytes, over the limit of ${MAX_FRAME_BYTES}`;
  return length;
}
