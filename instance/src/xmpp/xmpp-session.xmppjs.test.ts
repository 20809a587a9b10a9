import assert from 'node:assert/strict';
import { xml } from '@xmpp/client-core';
import { test } from 'vitest';
import { AppError } from '../shared/errors.ts';
import { bareOf, chatOf, classifyFailure } from './xmpp-session.xmppjs.ts';

const OWN = 'ursula@chat.example';
const message = (attrs: Record<string, string>, ...children: ReturnType<typeof xml>[]) =>
  xml('message', { from: 'carol@chat.example/phone', to: OWN, type: 'chat', id: 'm1', ...attrs }, ...children);

test('a chat with a body: the archive id only when our own server stamped it, the origin id, the claims', () => {
  const stamped = chatOf(
    message(
      {},
      xml('body', {}, 'hi'),
      xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'carol@chat.example', id: 'forged' }),
      xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: OWN, id: 'real' }),
      xml('origin-id', { xmlns: 'urn:xmpp:sid:0', id: 'o1' }),
      xml('encrypted', { xmlns: 'eu.siacs.conversations.axolotl' }),
    ),
    OWN,
    null,
  );
  assert.equal(stamped?.archiveId, 'real');
  assert.equal(stamped?.originId, 'o1');
  assert.equal(stamped?.e2e, 'omemo');
  assert.equal(stamped?.fromArchive, false);
  const foreign = chatOf(
    message({}, xml('body', {}, 'hi'), xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'x@y', id: 'forged' })),
    OWN,
    null,
  );
  assert.equal(foreign?.archiveId, null, 'a stanza-id by anyone else is not ours');
  assert.equal(foreign?.originId, 'm1');
  assert.equal(
    chatOf(message({}, xml('body', {}, 'x'), xml('openpgp', { xmlns: 'urn:xmpp:openpgp:0' })), OWN, null)?.e2e,
    'openpgp',
  );
});

test('errors, group chat, headlines, bodiless stanzas and stanzas without addresses are not chat', () => {
  for (const type of ['error', 'groupchat', 'headline'])
    assert.equal(chatOf(message({ type }, xml('body', {}, 'x')), OWN, null), null);
  assert.equal(chatOf(message({}, xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' })), OWN, null), null);
  assert.equal(chatOf(xml('message', { to: OWN, type: 'chat' }, xml('body', {}, 'x')), OWN, null), null);
});

test('an archive result carries its id and delay', () => {
  const at = new Date('2026-03-02T10:00:00Z');
  const c = chatOf(message({}, xml('body', {}, 'x')), OWN, { id: 'arch-1', delay: at });
  assert.equal(c?.archiveId, 'arch-1');
  assert.deepEqual(c?.delayedAt, at);
  assert.equal(c?.fromArchive, true);
});

test('bare JIDs and failure classification', () => {
  assert.equal(bareOf('Carol@Chat.Example/Phone'), 'carol@chat.example');
  assert.equal(bareOf('chat.example'), 'chat.example');
  assert.equal(
    classifyFailure(Object.assign(new Error('not-authorized'), { name: 'SASLError' })).code,
    'xmpp_auth_failed',
  );
  assert.equal(
    classifyFailure(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).code,
    'xmpp_tls_failed',
  );
  assert.equal(
    classifyFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).code,
    'xmpp_unreachable',
  );
  const own = new AppError('xmpp_offline');
  assert.equal(classifyFailure(own), own);
});
