import assert from 'node:assert/strict';
import { test } from 'vitest';
import { isAppError } from '../shared/errors.ts';
import { isPublicAddress, resolveImportHost } from './remote-host.policy.ts';

test('public and non-public addresses', () => {
  for (const ip of ['1.1.1.1', '93.184.216.34', '2a00:1450:4007:80e::200e', '172.32.0.1', '::ffff:8.8.8.8']) {
    assert.equal(isPublicAddress(ip), true, ip);
  }
  for (const ip of [
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
    'not-an-ip',
    '',
  ]) {
    assert.equal(isPublicAddress(ip), false, ip);
  }
});

test('a host is refused when any of its addresses is not public, unless private hosts are allowed', async () => {
  const lookup = async (host: string) =>
    ({
      'mixed.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.5', family: 4 },
      ],
      'public.example': [{ address: '93.184.216.34', family: 4 }],
    })[host] ?? [];
  const refused = async (host: string, code: string) =>
    assert.rejects(
      resolveImportHost(host, { allowPrivate: false, lookup }),
      (e) => isAppError(e) && e.code === code,
      host,
    );

  await refused('127.0.0.1', 'imap_host_forbidden');
  await refused('[::1]', 'imap_host_forbidden');
  await refused('mixed.example', 'imap_host_forbidden');
  await refused('nowhere.example', 'imap_unreachable');
  assert.deepEqual(await resolveImportHost('public.example', { allowPrivate: false, lookup }), {
    address: '93.184.216.34',
    servername: 'public.example',
  });
  assert.deepEqual(await resolveImportHost('127.0.0.1', { allowPrivate: true, lookup }), {
    address: '127.0.0.1',
    servername: undefined,
  });
  assert.deepEqual(await resolveImportHost('mixed.example', { allowPrivate: true, lookup }), {
    address: '93.184.216.34',
    servername: 'mixed.example',
  });
});
