// Run from the repo root: npm exec -- node packages/channel-core/examples/pay-and-receive.ts
import { PayeeLedger, PayerLedger, cryptoBackend, deserializeVoucher, serializeVoucher, type Address, type ChannelId } from '@sluice/channel-core';

const alicesKey = '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228'; // test key from the vectors
const bob = '0x3534D40fE4759F2169B1FbD6b8CfdBbeb76e485a' as Address;
const channelId = '0x76cfeb26998743182749b172299786987625d5d75f3286629ff062fc68b6e658' as ChannelId;
const price = 1_000n; // per chunk, in the asset's base unit

const alice = new PayerLedger(alicesKey);
alice.register({ channelId, payer: alice.address, payee: bob, balance: 10n * price });

const bobsLedger = new PayeeLedger(bob);
bobsLedger.register({ channelId, payer: alice.address, payee: bob, balance: 10n * price });
bobsLedger.markFunded(channelId); // postfund complete

for (let chunk = 0; chunk < 3; chunk++) {
  const wire = serializeVoucher(alice.pay(channelId, price)); // 129 bytes on the wire
  const result = bobsLedger.receive(deserializeVoucher(wire), { price });
  console.log(`chunk ${chunk}: ${result.kind}`, result.kind === 'accepted' ? `total ${result.total}` : '');
}
console.log(`backend: ${cryptoBackend().name}; Bob holds a voucher for ${bobsLedger.total(channelId)}`);
