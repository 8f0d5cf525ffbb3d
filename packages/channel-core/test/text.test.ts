import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUrlWith } from '../src/node/text.ts';

test('isUrlWith: an absolute URL with a host and one of the schemes', () => {
  for (const ok of ['http://a', 'https://files.example.com:8443/x?y', 'HTTP://A', 'http://[::1]:9464']) assert.equal(isUrlWith(ok), true, ok);
  for (const no of ['', 'a', 'http:a', 'http:/a', 'http:///a', 'http://', 'ftp://a', 'ws://a', '//a', ' http://a']) assert.equal(isUrlWith(no), false, no);
  assert.equal(isUrlWith('ws://a', ['http:', 'https:', 'ws:', 'wss:']), true);
  assert.equal(isUrlWith('wss://a/x', ['ws:']), false);
});
