// The engine's protocol, end to end in one process: startEngineServer on one side of an
// in-memory stream pair, a real vscode-jsonrpc client connection on the other.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CancellationTokenSource,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import {
  EngineErrorCodes,
  GenerateRequestType,
  InfoRequest,
  LogNotification,
  ProgressNotification,
  ShutdownRequest,
  type ProgressParams,
} from '../../src/engine/protocol.js';
import { startEngineServer, type EngineServer } from '../../src/engine/server.js';

function connectionPair(): { server: MessageConnection; client: MessageConnection } {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  return {
    server: createMessageConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient)),
    client: createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer)),
  };
}

describe('engine server over JSON-RPC', () => {
  let dir: string;
  let model: string;
  /** Big enough that 500 greedy tokens take about a second on a CPU, so a cancel lands mid-generation. */
  let slowModel: string;
  let server: EngineServer;
  let client: MessageConnection;
  let serverConnection: MessageConnection;
  const logs: string[] = [];
  const progress: ProgressParams[] = [];
  let shutdownCalls = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lens-engine-server-'));
    model = join(dir, 'tiny');
    await writeSyntheticCheckpoint(model, { preset: 'tiny', seed: 3 });
    slowModel = join(dir, 'slow');
    await writeSyntheticCheckpoint(slowModel, { preset: 'tiny', seed: 3, hiddenSize: 256, intermediateSize: 512, numLayers: 4, maxPositionEmbeddings: 1024 });
    const pair = connectionPair();
    serverConnection = pair.server;
    client = pair.client;
    server = startEngineServer(serverConnection, {
      provider: 'cpu',
      defaultModel: async (role) => ({ path: model, note: `default ${role} model for the test` }),
      onShutdown: () => shutdownCalls++,
    });
    client.onNotification(LogNotification, ({ line }) => {
      logs.push(line);
    });
    client.onNotification(ProgressNotification, (p) => {
      progress.push(p);
    });
    client.listen();
  });

  after(async () => {
    await server.dispose();
    client.dispose();
    serverConnection.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers info with the checkpoint description', async () => {
    const info = await client.sendRequest(InfoRequest, { model });
    assert.equal(info.path, model);
    assert.equal(info.architecture, 'LlamaForCausalLM');
    assert.equal(info.layers, 2);
    assert.equal(info.heads, 4);
    assert.equal(info.kvHeads, 2);
    assert.equal(info.vocabSize, 4096);
    assert.ok(info.parameters > 0);
  });

  it("resolves model '' to the default and logs its note", async () => {
    const info = await client.sendRequest(InfoRequest, { model: '', role: 'tuned' });
    assert.equal(info.path, model);
    await waitFor(() => logs.includes('default tuned model for the test'));
  });

  it('generates greedily, with progress for the token it was given', async () => {
    const result = await client.sendRequest(GenerateRequestType, { model, prompt: 'Summarize the following text', maxNewTokens: 5, progressToken: 'p1' });
    assert.equal(result.model, model);
    assert.equal(result.executionProvider, 'cpu');
    assert.ok(result.inputIds.length > 0);
    assert.deepEqual(result.promptSpan[1], result.inputIds.length);
    assert.ok(result.outputIds.length <= 5);
    assert.equal(typeof result.text, 'string');
    for (const id of result.outputIds) assert.ok(Number.isInteger(id) && id >= 0 && id < 4096);
    const mine = progress.filter((p) => p.token === 'p1');
    assert.ok(mine.length >= 2, JSON.stringify(progress));
    assert.match(mine[0]!.message, /Loading/);
    // The same request again gives the same tokens (greedy, deterministic).
    const again = await client.sendRequest(GenerateRequestType, { model, prompt: 'Summarize the following text', maxNewTokens: 5 });
    assert.deepEqual(again.outputIds, result.outputIds);
  });

  it('answers a bad model folder with a user error naming the folder', async () => {
    const missing = join(dir, 'no-such-model');
    await assert.rejects(client.sendRequest(InfoRequest, { model: missing }), (e: unknown) => {
      assert.ok(e instanceof ResponseError);
      assert.equal(e.code, EngineErrorCodes.UserError);
      assert.ok(e.message.includes(missing), e.message);
      assert.doesNotMatch(e.message, /\n\s+at /);
      assert.equal((e.data as { kind: string }).kind, 'user');
      return true;
    });
    await assert.rejects(client.sendRequest(GenerateRequestType, { model: missing, prompt: 'hi' }), (e: unknown) => {
      assert.ok(e instanceof ResponseError && e.code === EngineErrorCodes.UserError && e.message.includes(missing), String(e));
      return true;
    });
  });

  it('rejects malformed params', async () => {
    await assert.rejects(client.sendRequest(GenerateRequestType, { model, prompt: 'hi', maxNewTokens: -1 }), (e: unknown) => {
      assert.ok(e instanceof ResponseError && e.code === EngineErrorCodes.InvalidParams, String(e));
      return true;
    });
  });

  it('cancels a running generation and stays usable', async () => {
    // Warm up: the sessions exist, so the cancel reaches the decoding loop itself.
    await client.sendRequest(GenerateRequestType, { model: slowModel, prompt: 'warm up', maxNewTokens: 1 });
    const source = new CancellationTokenSource();
    const token = 'cancel-me';
    const started = Date.now();
    const pending = client.sendRequest(
      GenerateRequestType,
      { model: slowModel, prompt: 'Write a very long story about a lighthouse', maxNewTokens: 500, progressToken: token },
      source.token,
    );
    // Cancel a few milliseconds after the engine reports that it is generating.
    await waitFor(() => progress.some((p) => p.token === token && /Generating/.test(p.message)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    source.cancel();
    const cancelledAt = Date.now();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof ResponseError, `expected a cancelled error, got ${String(e)}`);
      assert.equal(e.code, EngineErrorCodes.Cancelled);
      assert.equal(e.message, 'Cancelled.');
      assert.equal((e.data as { kind: string }).kind, 'cancelled');
      return true;
    });
    // One decoding step at most after the cancel, not the rest of the 500.
    const stoppedAfter = Date.now() - cancelledAt;
    assert.ok(stoppedAfter < 500, `stopped ${stoppedAfter} ms after the cancel (${cancelledAt - started} ms after the start)`);
    const next = await client.sendRequest(GenerateRequestType, { model: slowModel, prompt: 'Translate this sentence', maxNewTokens: 3 });
    assert.ok(next.outputIds.length <= 3);
    const info = await client.sendRequest(InfoRequest, { model });
    assert.equal(info.path, model);
  });

  it('cancels a request cancelled before it started', async () => {
    const source = new CancellationTokenSource();
    source.cancel();
    await assert.rejects(client.sendRequest(GenerateRequestType, { model, prompt: 'hi', maxNewTokens: 3 }, source.token), (e: unknown) => {
      assert.ok(e instanceof ResponseError && e.code === EngineErrorCodes.Cancelled, String(e));
      return true;
    });
  });

  it('shuts down: cancels what runs, answers, releases, then refuses new work', async () => {
    const token = 'during-shutdown';
    const running = client.sendRequest(GenerateRequestType, { model: slowModel, prompt: 'Keep going', maxNewTokens: 500, progressToken: token });
    const outcome = running.then(() => 'resolved', (e: unknown) => e);
    await waitFor(() => progress.some((p) => p.token === token && /Generating/.test(p.message)));
    await client.sendRequest(ShutdownRequest);
    const e = await outcome;
    assert.ok(e instanceof ResponseError && e.code === EngineErrorCodes.Cancelled, String(e));
    await waitFor(() => shutdownCalls === 1);
    await assert.rejects(client.sendRequest(InfoRequest, { model }), (e: unknown) => {
      assert.ok(e instanceof ResponseError && e.code === EngineErrorCodes.Cancelled, String(e));
      return true;
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
