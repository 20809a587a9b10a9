import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { Account } from '../accounts/account.entity.ts';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Device } from '../devices/device.entity.ts';
import type { AccountKey } from '../keys/account-key.entity.ts';
import type { Message } from '../mail/message.entity.ts';
import type { TimeCursor } from '../shared/paging.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { mboxrdEntry } from './account-export.mbox.ts';

/*
 * "Take your data away" (issue 18 item 3, the charter's portability commitment): one tar archive of everything the
 * instance keeps about an account, streamed to the user — messages as mboxrd (messages.mbox) with an index
 * (messages.json), contacts as vCard 4.0, public keys armoured (private keys are not exported here: see keys.json),
 * the Privacy Index, devices, and the admin journal's entries about the account. Nothing of another account, no
 * password hash, no TOTP seed, no session token.
 */

const PAGE = 200;

export interface AccountExportDeps {
  storage: Pick<Storage, 'accounts' | 'conversations' | 'messages' | 'devices'>;
  blobs: BlobStore;
  contacts: { exportVcards(accountId: string): Promise<string> };
  keys: { list(accountId: string): Promise<AccountKey[]>; armor(publicKey: Uint8Array): string };
  privacy: { overview(accountId: string): Promise<{ account: unknown }> };
  journal: { all(query: { subjectId: string }): AsyncIterable<unknown> };
  clock: Clock;
  domain: string;
}

export interface ExportArchive {
  filename: string;
  /** The tar stream (Node Readable); its temporary files go when it ends or is destroyed. */
  stream: Readable;
}

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

const README = (account: Account, domain: string, at: Date) =>
  `Caliopen export of ${account.username}@${domain}, made ${at.toISOString()}.

messages.mbox      every message (mboxrd: import it in Thunderbird, Apple Mail, mutt...)
messages.json      each message's folder facts: discussion, tags, read, archived, Privacy Index
contacts.vcf       your contacts (vCard 4.0)
keys/*.asc         your OpenPGP public keys; keys.json says where each private key is
privacy.json       your Privacy Index and what makes it
devices.json       the devices that signed in to your account
admin-journal.json what the instance's administrators did about your account
account.json       your account (no password, no two-factor secret)

Export Caliopen de ${account.username}@${domain}, faite le ${at.toISOString()}.

messages.mbox      tous les messages (mboxrd : importable dans Thunderbird, Apple Mail, mutt...)
messages.json      pour chaque message : discussion, étiquettes, lu, archivé, indice de confidentialité
contacts.vcf       vos contacts (vCard 4.0)
keys/*.asc         vos clés publiques OpenPGP ; keys.json dit où est chaque clé privée
privacy.json       votre indice de confidentialité et ce qui le compose
devices.json       les appareils connectés à votre compte
admin-journal.json ce que les administrateurs de l'instance ont fait concernant votre compte
account.json       votre compte (sans mot de passe ni secret de double authentification)
`;

export class AccountExportService {
  constructor(private readonly deps: AccountExportDeps) {}

  /** Every message of the account that still exists (soft-deleted ones included, marked), newest first. */
  private async *messages(accountId: string): AsyncGenerator<Message> {
    const seen = new Set<string>();
    let before: TimeCursor | undefined;
    for (;;) {
      const conversations = await this.deps.storage.conversations.list(accountId, {
        limit: PAGE,
        ...(before ? { before } : {}),
      });
      for (const c of conversations) {
        let mBefore: TimeCursor | undefined;
        for (;;) {
          const rows = await this.deps.storage.messages.listByConversation(accountId, c.id, {
            limit: PAGE,
            ...(mBefore ? { before: mBefore } : {}),
          });
          for (const m of rows) {
            if (seen.has(m.id)) continue;
            seen.add(m.id);
            yield m;
          }
          if (rows.length < PAGE) break;
          const last = rows.at(-1)!;
          mBefore = { at: last.receivedAt, id: last.id };
        }
      }
      if (conversations.length < PAGE) return;
      const last = conversations.at(-1)!;
      before = { at: last.lastMessageAt, id: last.id };
    }
  }

  /**
   * Builds the archive for the account: the mbox is written to a temporary file first (a tar entry needs its size),
   * the rest is small; then the tar is streamed from there. Resolves once the archive is ready to stream.
   */
  async export(accountId: string): Promise<ExportArchive> {
    const account = await this.deps.storage.accounts.get(accountId);
    if (!account) throw new Error('no such account');
    const at = this.deps.clock();
    const work = await mkdtemp(join(tmpdir(), 'caliopen-export-'));
    try {
      const mboxPath = join(work, 'messages.mbox');
      const index: unknown[] = [];
      const fh = await open(mboxPath, 'w', 0o600);
      try {
        for await (const m of this.messages(accountId)) {
          const raw = m.rawRef ? await this.deps.blobs.get(m.rawRef) : null;
          if (raw) await fh.write(mboxrdEntry(raw, m.from.address, m.receivedAt));
          index.push({
            id: m.id,
            externalId: m.externalId,
            conversationId: m.conversationId,
            protocol: m.protocol,
            direction: m.direction,
            from: m.from,
            to: m.to,
            cc: m.cc,
            subject: m.subject,
            sentAt: m.sentAt,
            receivedAt: m.receivedAt,
            sizeBytes: m.sizeBytes,
            tags: m.tags,
            read: m.read,
            archived: m.archived,
            deletedAt: m.deletedAt,
            importance: m.importance,
            pi: m.pi,
            inMbox: raw !== null,
          });
        }
      } finally {
        await fh.close();
      }
      const keys = await this.deps.keys.list(accountId);
      const journal: unknown[] = [];
      for await (const e of this.deps.journal.all({ subjectId: accountId })) journal.push(e);
      const devices: Device[] = await this.deps.storage.devices.listByAccount(accountId);
      const small: [string, Buffer][] = [
        ['README.txt', Buffer.from(README(account, this.deps.domain, at), 'utf8')],
        [
          'account.json',
          json({
            id: account.id,
            username: account.username,
            address: `${account.username}@${this.deps.domain}`,
            displayName: account.displayName,
            role: account.role,
            twoFactor: account.totpSecretSealed !== null,
            quotaBytes: account.quotaBytes,
            usedBytes: account.usedBytes,
            disabled: account.disabled,
            createdAt: account.createdAt,
            exportedAt: at,
          }),
        ],
        ['messages.json', json(index)],
        ['contacts.vcf', Buffer.from(await this.deps.contacts.exportVcards(accountId), 'utf8')],
        [
          'keys.json',
          json(
            keys.map((k) => ({
              fingerprint: k.fingerprint,
              status: k.status,
              version: k.version,
              algorithm: k.algorithm,
              createdAt: k.keyCreatedAt,
              expiresAt: k.keyExpiresAt,
              addedAt: k.addedAt,
              publicKey: `keys/${k.fingerprint}.asc`,
              privateKey:
                k.privateKey === null
                  ? 'on your devices only: the server never had it'
                  : 'held by the server, encrypted under your password: not in this export; to get it, switch your keys to client mode (Settings › Keys), which hands it to you protected by a passphrase',
            })),
          ),
        ],
        ...keys.map((k): [string, Buffer] => [
          `keys/${k.fingerprint}.asc`,
          Buffer.from(this.deps.keys.armor(k.publicKey)),
        ]),
        ['privacy.json', json({ account: (await this.deps.privacy.overview(accountId)).account })],
        ['devices.json', json(devices.map(({ userAgent: _ua, ...d }) => d))],
        ['admin-journal.json', json(journal)],
      ];
      const mboxBytes = (await stat(mboxPath)).size;
      const pack = tar.pack();
      const stream = Readable.from(pack as AsyncIterable<Buffer>);
      const cleanup = () => void rm(work, { recursive: true, force: true });
      stream.once('close', cleanup);
      void (async () => {
        try {
          for (const [name, data] of small) await entry(pack, name, data, at);
          await entry(pack, 'messages.mbox', createReadStream(mboxPath), at, mboxBytes);
          pack.finalize();
        } catch (e) {
          pack.destroy(e as Error);
        }
      })();
      return { filename: `caliopen-${account.username}-${at.toISOString().slice(0, 10)}.tar`, stream };
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }
}

async function entry(pack: tar.Pack, name: string, source: Buffer | Readable, mtime: Date, size?: number) {
  await new Promise<void>((resolve, reject) => {
    const bytes = Buffer.isBuffer(source) ? source.length : size!;
    const sink = pack.entry({ name, size: bytes, mode: 0o600, mtime }, (e) => (e ? reject(e) : resolve()));
    if (Buffer.isBuffer(source)) {
      sink.end(source);
      return;
    }
    void (async () => {
      try {
        for await (const chunk of source) if (!sink.write(chunk as Buffer)) await once(sink, 'drain');
        sink.end(Buffer.alloc(0));
      } catch (e) {
        reject(e as Error);
      }
    })();
  });
}
