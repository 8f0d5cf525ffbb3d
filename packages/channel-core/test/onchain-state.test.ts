/**
 * `onChainState`: what `sluice withdraw` and `sluice-hub settle` say last (audit finding 5: they
 * waited forever, or said "a challenge transaction is not mined yet; our node finishes this" about
 * a payout only the counterparty could make, or one already made).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onChainState } from '../src/node/index.ts';

const d = (waitingFor: string) => ({ waitingFor });

test('onChainState: paid out, registering, only the counterparty, or our node settling', () => {
  assert.equal(onChainState([], 0), 'paidOut');
  assert.equal(onChainState([], 1), 'settling', 'a ledger settled on chain not closed yet');
  assert.equal(onChainState([d('WaitingForChallengeRegistered'), d('WaitingForOtherParticipant')], 1), 'registering');
  assert.equal(onChainState([d('WaitingForOtherParticipant')], 1), 'counterpartyOnly');
  assert.equal(onChainState([d('WaitingForOtherParticipant'), d('WaitingForFinalization')], 1), 'settling', 'our node still has a step');
  assert.equal(onChainState([d('WaitingForVirtualFinalization')], 1), 'settling');
  assert.equal(onChainState([d('WaitingForChannelStatus')], 1), 'settling', 'the status read is ours to make');
});
