/** Revert data decoding: Error(string), Panic(uint256), custom errors from the given ABIs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interface } from 'ethers';
import { decodeRevertData, toChainError } from '@sluice/channel-core/ethers';

const custom = new Interface(['error NotEnough(address who, uint256 have, uint256 need)']);
const builtin = new Interface(['error Error(string)', 'error Panic(uint256)']);

test('decodes Error(string), Panic and custom errors; unknown data is named by its selector', () => {
  assert.deepEqual(decodeRevertData(builtin.encodeErrorResult('Error', ['held != expectedHeld']), []).reason, 'held != expectedHeld');
  assert.equal(decodeRevertData(builtin.encodeErrorResult('Panic', [0x11n]), []).reason, 'panic 0x11');
  const who = '0x000000000000000000000000000000000000dEaD';
  const d = decodeRevertData(custom.encodeErrorResult('NotEnough', [who, 1n, 2n]), [custom]);
  assert.equal(d.name, 'NotEnough');
  assert.deepEqual(d.args, [who, '1', '2']);
  assert.equal(d.reason, `NotEnough(${who}, 1, 2)`);
  assert.match(decodeRevertData('0xdeadbeef', [custom]).reason, /unknown revert data 0xdeadbeef/);
  assert.equal(decodeRevertData('0x', []).reason, 'reverted without a reason');
});

test('toChainError maps ethers codes', () => {
  const revert = Object.assign(new Error('execution reverted'), { code: 'CALL_EXCEPTION', data: custom.encodeErrorResult('NotEnough', ['0x000000000000000000000000000000000000dEaD', 1n, 2n]) });
  const e1 = toChainError(revert, 'deposit', [custom]);
  assert.equal(e1.code, 'CHAIN_REVERT');
  assert.equal(e1.details['error'], 'NotEnough');
  assert.equal(toChainError(Object.assign(new Error('t'), { code: 'TIMEOUT' }), 'x', []).code, 'CHAIN_TIMEOUT');
  const secret = 'ab'.repeat(32);
  const net = Object.assign(new Error('connect ECONNREFUSED'), { code: 'NETWORK_ERROR', request: { body: `{"params":["0x${secret}"]}` } });
  const e3 = toChainError(net, 'x', []);
  assert.equal(e3.code, 'CHAIN_RPC');
  assert.ok(!JSON.stringify({ m: e3.message, d: e3.details, c: String(e3.cause) }).includes(secret));
});
