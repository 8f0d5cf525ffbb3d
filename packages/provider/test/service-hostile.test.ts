/**
 * Hostile clients against a running provider (real HTTP, real ws, real files): each case
 * gets its error frame + close code and a metric; no unpaid chunk is ever sent; other
 * clients keep being served.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signVoucher, serializeVoucher } from '@sluice/channel-core';
import { type ProviderFrame, encodeFrame } from '../src/wire/index.ts';
import { ALICE_KEY, type Fixture, MALLORY, MALLORY_KEY, addFile, metric, openChannel, raw, startFixture } from './service-helpers.ts';

const PRICE = 1000n;

function isError(code: number): (f: ProviderFrame) => boolean {
  return (f) => f.type === 'error' && f.wireCode === code;
}

describe('provider service: hostile clients', () => {
  let f: Fixture;
  let file: string; // 40 chunks
  let small: string; // 3 chunks
  before(async () => {
    f = await startFixture({
      pricePerChunk: PRICE,
      limits: { idleTimeoutMs: 1_500, slowReaderTimeoutMs: 1_000, maxFramesPerSecond: 2_000, frameBurst: 500 },
    });
    file = (await addFile(f, 40 * 262_144)).record.cid;
    small = (await addFile(f, 3 * 262_144 - 5)).record.cid;
  });
  after(async () => {
    await f.stop();
    await f.cleanup();
  });

  async function expectClose(r: Awaited<ReturnType<typeof raw>>, code: number): Promise<void> {
    const c = await r.closed;
    assert.equal(c.code, code, `close code (reason: ${c.reason})`);
    if (code >= 4000) assert.ok(r.frames.some(isError(code)), 'an ERROR frame with the same code precedes the close');
    assert.deepEqual(r.chunks(), [], 'no chunk was sent');
  }

  const table: { name: string; code: number; reason: string; act: (r: Awaited<ReturnType<typeof raw>>) => Promise<void> }[] = [
    { name: 'unknown frame type', code: 4000, reason: 'DECODE_FAILED', act: async (r) => r.send(new Uint8Array([0x42, 1, 2])) },
    { name: 'empty message', code: 4000, reason: 'DECODE_FAILED', act: async (r) => r.send(new Uint8Array(0)) },
    { name: 'truncated HELLO', code: 4000, reason: 'DECODE_FAILED', act: async (r) => r.send(new Uint8Array([0x01, 0x01, 0, 0])) },
    { name: 'text message', code: 4000, reason: 'DECODE_FAILED', act: async (r) => r.send('hello') },
    { name: 'unsupported version', code: 4002, reason: 'WIRE_VERSION_UNSUPPORTED', act: async (r) => { const b = encodeFrame({ type: 'hello', version: 1, channelId: ('0x' + '11'.repeat(32)) as never, root: (await import('../src/content/index.ts')).parseCid(small), start: 0, end: 1 }); b[1] = 9; r.send(b); } },
    { name: 'VOUCHER before HELLO', code: 4003, reason: 'WIRE_UNEXPECTED_FRAME', act: async (r) => r.voucher(await openChannel(f), PRICE) },
    { name: 'provider frame from a client (CHUNK)', code: 4003, reason: 'WIRE_UNEXPECTED_FRAME', act: async (r) => r.send(encodeFrame({ type: 'chunk', index: 0, data: new Uint8Array(4) })) },
    { name: 'malformed voucher (high s / bad v)', code: 4100, reason: 'VOUCHER_MALFORMED', act: async (r) => { const ch = await openChannel(f); r.hello(ch, small); await r.waitFor((x) => x.type === 'ready'); const b = new Uint8Array(130); b[0] = 3; b.set(serializeVoucher(signVoucher(ch, PRICE, ALICE_KEY)), 1); b[129] = 99; r.send(b); } },
    { name: 'unknown channel', code: 4110, reason: 'CHANNEL_UNKNOWN', act: async (r) => r.hello(('0x' + '12'.repeat(32)) as never, small) },
    { name: 'channel not funded', code: 4111, reason: 'CHANNEL_NOT_FUNDED', act: async (r) => r.hello(await openChannel(f, { status: 'proposed' }), small) },
    { name: 'channel closing', code: 4112, reason: 'CHANNEL_CLOSING', act: async (r) => r.hello(await openChannel(f, { status: 'closing' }), small) },
    { name: 'channel for another payee', code: 4103, reason: 'VOUCHER_WRONG_PAYEE', act: async (r) => r.hello(await openChannel(f, { payee: MALLORY }), small) },
    { name: 'unknown content', code: 4200, reason: 'CONTENT_NOT_FOUND', act: async (r) => r.hello(await openChannel(f), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku') },
    { name: 'range outside the file', code: 4201, reason: 'CHUNK_RANGE_INVALID', act: async (r) => r.hello(await openChannel(f), small, 3, 5) },
    { name: 'second HELLO', code: 4003, reason: 'WIRE_UNEXPECTED_FRAME', act: async (r) => { const ch = await openChannel(f); r.hello(ch, small); await r.waitFor((x) => x.type === 'ready'); r.hello(ch, small); } },
    { name: 'bad signature (signed by Mallory)', code: 4101, reason: 'VOUCHER_BAD_SIGNATURE', act: async (r) => { const ch = await openChannel(f); r.hello(ch, small); await r.waitFor((x) => x.type === 'ready'); r.voucher(ch, PRICE, MALLORY_KEY); } },
    { name: 'voucher for another channel', code: 4102, reason: 'VOUCHER_WRONG_CHANNEL', act: async (r) => { const ch = await openChannel(f); const other = await openChannel(f); r.hello(ch, small); await r.waitFor((x) => x.type === 'ready'); r.voucher(other, PRICE); } },
    { name: 'voucher above the channel balance', code: 4105, reason: 'VOUCHER_EXCEEDS_BALANCE', act: async (r) => { const ch = await openChannel(f, { balance: 2n * PRICE }); r.hello(ch, small); await r.waitFor((x) => x.type === 'ready'); r.voucher(ch, 3n * PRICE); } },
    { name: 'voucher paying past the requested range', code: 4004, reason: 'INVALID_ARGUMENT', act: async (r) => { const ch = await openChannel(f); r.hello(ch, small, 0, 1); await r.waitFor((x) => x.type === 'ready'); r.voucher(ch, 2n * PRICE); } },
  ];

  for (const c of table) {
    it(`${c.name} → ${c.code} ${c.reason}`, async () => {
      const before = await metric(f, 'sluice_provider_protocol_errors_total', { reason: c.reason });
      const r = await raw(f);
      await c.act(r);
      await expectClose(r, c.code);
      assert.equal(await metric(f, 'sluice_provider_protocol_errors_total', { reason: c.reason }), before + 1);
    });
  }

  it('a HELLO on a channel still being funded here waits for it briefly (the payer\'s side completed first)', async () => {
    const ch = await openChannel(f, { status: 'proposed' });
    const r = await raw(f);
    r.hello(ch, small);
    await new Promise((res) => setTimeout(res, 200));
    await f.registry.setStatus(ch, 'funded');
    await r.waitFor((x) => x.type === 'ready');
    r.ws.close();
  });

  it('a HELLO on a channel that does not pay us costs no store read (the channel is checked before the file)', async () => {
    const fresh = (await addFile(f, 2 * 262_144)).record.cid; // not yet resolved by the service
    let reads = 0;
    const getBlock = f.store.getBlock.bind(f.store);
    f.store.getBlock = async (c) => {
      reads++;
      return getBlock(c);
    };
    try {
      const hellos: [() => Promise<string>, number][] = [
        [async () => '0x' + '12'.repeat(32), 4110],
        [() => openChannel(f, { status: 'proposed' }), 4111],
        [() => openChannel(f, { status: 'closing' }), 4112],
        [() => openChannel(f, { payee: MALLORY }), 4103],
      ];
      for (const [channel, code] of hellos) {
        const r = await raw(f);
        r.hello((await channel()) as never, fresh);
        assert.equal((await r.closed).code, code);
      }
      assert.equal(reads, 0, 'no block of the file was read for HELLOs on channels that do not pay us');
      const r = await raw(f);
      r.hello(await openChannel(f), fresh);
      await r.waitFor((x) => x.type === 'ready');
      assert.ok(reads > 0, 'a HELLO on a channel that pays us resolves the file');
      r.ws.close(1000);
      await r.closed;
    } finally {
      f.store.getBlock = getBlock;
    }
  });

  it('oversized message → 1009 (ws limit) and a FRAME_TOO_LARGE metric', async () => {
    const before = await metric(f, 'sluice_provider_protocol_errors_total', { reason: 'FRAME_TOO_LARGE' });
    const r = await raw(f);
    r.send(new Uint8Array(100_000));
    assert.equal((await r.closed).code, 1009);
    assert.equal(await metric(f, 'sluice_provider_protocol_errors_total', { reason: 'FRAME_TOO_LARGE' }), before + 1);
  });

  it('rejected vouchers are counted by reason', async () => {
    assert.ok((await metric(f, 'sluice_provider_vouchers_rejected_total', { reason: 'VOUCHER_BAD_SIGNATURE' })) >= 1);
    assert.ok((await metric(f, 'sluice_provider_vouchers_rejected_total', { reason: 'VOUCHER_WRONG_CHANNEL' })) >= 1);
    assert.ok((await metric(f, 'sluice_provider_vouchers_rejected_total', { reason: 'VOUCHER_EXCEEDS_BALANCE' })) >= 1);
  });

  it('exactly what is paid is sent: partial payments, replayed and lower vouchers are no-ops', async () => {
    const ch = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, file);
    await r.waitFor((x) => x.type === 'ready');
    r.voucher(ch, PRICE + PRICE / 2n); // pays chunk 0 only
    await r.waitFor((x) => x.type === 'chunk' && x.index === 0);
    const ignoredBefore = await metric(f, 'sluice_provider_vouchers_ignored_total', { reason: 'duplicate' });
    r.voucher(ch, PRICE + PRICE / 2n); // replay
    r.voucher(ch, PRICE); // lower
    await r.waitFor((x) => x.type === 'ack' && r.frames.filter((y) => y.type === 'ack').length >= 3);
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(r.chunks(), [0]);
    assert.ok((await metric(f, 'sluice_provider_vouchers_ignored_total', { reason: 'duplicate' })) >= ignoredBefore + 1);
    r.voucher(ch, 3n * PRICE);
    await r.waitFor((x) => x.type === 'chunk' && x.index === 2);
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(r.chunks(), [0, 1, 2]);
    assert.equal(r.ws.readyState, r.ws.OPEN, 'no-ops do not close the session');
    // Every ACK's paidEnd covers exactly the chunks received by then.
    r.ws.close(1000);
    await r.closed;
  });

  it('idle session → 4300 PEER_TIMEOUT', async () => {
    const before = await metric(f, 'sluice_provider_protocol_errors_total', { reason: 'PEER_TIMEOUT' });
    const ch = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, small);
    const c = await r.closed;
    assert.equal(c.code, 4300);
    assert.ok(r.frames.some(isError(4300)));
    assert.deepEqual(r.chunks(), []);
    assert.ok((await metric(f, 'sluice_provider_protocol_errors_total', { reason: 'PEER_TIMEOUT' })) >= before + 1);
  });

  it('flood of frames → 4302 OVERLOADED; another client is served meanwhile', async () => {
    const ch = await openChannel(f);
    const good = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, small);
    await r.waitFor((x) => x.type === 'ready');
    const v = encodeFrame({ type: 'voucher', voucher: signVoucher(ch, PRICE, ALICE_KEY) });
    const g = await raw(f);
    g.hello(good, small);
    await g.waitFor((x) => x.type === 'ready');
    for (let i = 0; i < 5_000; i++) r.send(v);
    g.voucher(good, 3n * PRICE);
    const c = await r.closed;
    assert.equal(c.code, 4302);
    assert.ok(r.chunks().length <= 1, 'at most the one paid chunk');
    await g.waitFor((x) => x.type === 'chunk' && x.index === 2);
    assert.deepEqual(g.chunks(), [0, 1, 2]);
    g.ws.close(1000);
  });

  it('pings are answered; a ping flood → 4302 OVERLOADED (counted with the frames), pongs never pile up', async () => {
    const r = await raw(f);
    const pong = new Promise<Buffer>((res) => r.ws.once('pong', res));
    r.ws.ping(Buffer.from('are you there'));
    assert.equal((await pong).toString(), 'are you there');
    const socket = (r.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause(); // reads nothing from now on
    for (let i = 0; i < 10_000; i++) r.ws.ping(Buffer.alloc(125, 1)); // far above the burst (500) even on a slow machine
    socket.resume();
    const c = await r.closed;
    assert.equal(c.code, 4302);
  });

  it('a reader that pauses briefly (below the timeout) is served to the end once it reads again', async () => {
    const ch = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, file);
    await r.waitFor((x) => x.type === 'ready');
    const socket = (r.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    r.voucher(ch, 40n * PRICE);
    await new Promise((res) => setTimeout(res, 200));
    socket.resume();
    await r.waitFor((x) => x.type === 'chunk' && x.index === 39, 5_000);
    assert.deepEqual(r.chunks(), Array.from({ length: 40 }, (_, i) => i));
    r.ws.close(1000);
    await r.closed;
  });

  it('slow reader (socket not read) → closed with 4300 PEER_TIMEOUT, buffering bounded', async () => {
    const before = await metric(f, 'sluice_provider_protocol_errors_total', { reason: 'PEER_TIMEOUT' });
    const ch = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, file);
    await r.waitFor((x) => x.type === 'ready');
    const socket = (r.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    r.voucher(ch, 40n * PRICE);
    let maxNext = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const s = f.service.sessions.list().find((x) => x.channelId === ch);
      if (s !== undefined) maxNext = Math.max(maxNext, s.next);
      if (s === undefined && maxNext > 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(f.service.sessions.list().find((x) => x.channelId === ch), undefined, 'the session was closed');
    assert.ok(maxNext < 40, `the provider stopped queuing chunks for a client that does not read (sent ${maxNext} of 40)`);
    assert.equal(await metric(f, 'sluice_provider_protocol_errors_total', { reason: 'PEER_TIMEOUT' }), before + 1);
    socket.resume();
    const c = await r.closed;
    assert.ok(c.code === 4300 || c.code === 1006, `close code ${c.code}`);
  });

  it('close codes a client picks share one metric label (no series per code)', async () => {
    const before = await metric(f, 'sluice_provider_sessions_closed_total', { code: 'other' });
    for (const code of [3001, 3777, 4999]) {
      const r = await raw(f);
      r.ws.close(code);
      await r.closed;
    }
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(await metric(f, 'sluice_provider_sessions_closed_total', { code: 'other' }), before + 3);
    for (const code of ['3001', '3777', '4999']) assert.equal(await metric(f, 'sluice_provider_sessions_closed_total', { code }), 0, `no series for ${code}`);
  });
});
