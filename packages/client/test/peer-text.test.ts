/** peerText: provider text made safe for the terminal (F5). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PEER_TEXT, peerText } from '../src/peer-text.ts';

it('strips C0/C1 controls, DEL, bidi overrides and invisible characters, caps the length', () => {
  const table: [string, string][] = [
    ['plain name.bin', 'plain name.bin'],
    ['\u001b[2J\u001b]0;owned\u0007x', '?[2J?]0;owned?x'],
    ['a\rb\nc\td', 'a?b?c?d'],
    ['\u009b31m\u0085', '?31m?'],
    ['\u007f', '?'],
    ['evil\u202egnp.exe', 'evil?gnp.exe'],
    ['\u2066x\u2069\u200f\u061c\ufeff\u200b', '?x?????'],
    ['line\u2028sep', 'line?sep'],
    ['ünïcødé 名前 🎉', 'ünïcødé 名前 🎉'],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
  ];
  for (const [input, want] of table) assert.equal(peerText(input), want, JSON.stringify(input));
  assert.equal(peerText(42), '');
  const long = peerText('x'.repeat(10_000));
  assert.equal(long.length, MAX_PEER_TEXT);
  assert.ok(long.endsWith('…'));
  assert.equal(peerText('🎉'.repeat(300), 11), `${'🎉'.repeat(5)}…`, 'cut on a code point boundary');
});
