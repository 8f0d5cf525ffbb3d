/**
 * A refusal of an opening (`rejectObjective`) is not signed. Delivered directly, the transport
 * proves its sender; relayed, the sender is the relay's word, so a hub could forge a payee's
 * refusal. It gains nothing (a refusal is honoured only while nothing is locked, and the hub can
 * refuse in its own name), but the error must not pin it on the payee as a fact: it names the
 * relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '../../src/index.ts';
import type { InboundMessage, MessageService } from '../../src/ports/messaging.ts';
import { ADDR, until, world } from './harness.ts';

/** Alice's messaging, delivering Bob's refusals to her as if the hub had relayed them. */
function refusalsRelayedByIrene(inner: MessageService): MessageService {
  return {
    get self() {
      return inner.self;
    },
    send: (to, payload, options) => inner.send(to, payload, options),
    onMessage(handler) {
      inner.onMessage((m: InboundMessage) => {
        const isRefusal = new TextDecoder().decode(m.payload).includes('rejectObjective');
        return handler(m.from === ADDR.bob && isRefusal ? { ...m, relayedBy: ADDR.irene } : m);
      });
    },
    onUndeliverable: (handler) => inner.onUndeliverable(handler),
    start: () => inner.start(),
    stop: () => inner.stop(),
  };
}

for (const relayed of [false, true]) {
  test(`a payee's refusal ${relayed ? 'relayed by the hub names the relay' : 'received directly names the payee alone'}`, async () => {
    // Bob accepts virtual channels of at most 1 h; Alice asks for 2 h (the hub accepts it)
    const w = await world(
      { minDelayMs: 0, maxDelayMs: 2, seed: 11 },
      { alice: { virtualChallengeDuration: 7200 }, bob: { policy: { challengeDurations: { virtual: [300, 3600] } } } },
      {},
      relayed ? { alice: refusalsRelayedByIrene } : {},
    );
    try {
      const { alice, bob, irene } = w.nodes;
      await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n });
      await bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 800n });
      await until(() => irene.getLedgerChannels().filter((l) => l.status === 'open').length === 2, 'ledgers open');
      await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }), (e: unknown) => {
        assert.ok(isSluiceError(e, 'HUB_POLICY_REJECTED'), String(e));
        assert.match(e.message, new RegExp(`^${ADDR.bob} refused`));
        assert.match(e.message, /challenge duration 7200 s/);
        if (relayed) {
          assert.ok(e.message.includes(`as relayed by ${ADDR.irene}: a relayed refusal is not signed`), e.message);
        } else {
          assert.ok(!e.message.includes('relayed'), e.message);
        }
        return true;
      });
    } finally {
      await w.stop();
    }
  });
}
