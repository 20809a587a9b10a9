import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * Reads a Maildir tree: every directory holding `cur/` or `new/` is a folder (the root is INBOX; nested folders keep
 * their path, `Archive/2023`; Maildir++ names `.Sent`, `.Archive.2023` become `Sent`, `Archive/2023`). Messages are
 * the regular files of `cur/` and `new/`, in name order per folder; `tmp/` holds deliveries in progress and is left
 * alone (counted), as are dot-files and files elsewhere (dovecot-uidlist, maildirfolder...). Flags come from the
 * name (`:2,S` = seen). One file is read at a time: the tree is listed first (names only), never loaded whole.
 */
export interface MaildirFolder {
  /** The folder as a tag: 'INBOX', 'Sent', 'Archive/2023'. */
  name: string;
  dir: string;
  /** Message file names (under cur/ or new/), sorted. */
  files: { sub: 'cur' | 'new'; name: string }[];
}

export interface MaildirListing {
  folders: MaildirFolder[];
  /** Files left alone: in tmp/ (being delivered), or not messages (outside cur/ and new/, dot-files, not regular). */
  skipped: { tmp: number; other: number };
}

const MAX_DEPTH = 32;

function folderName(root: string, dir: string): string {
  const rel = relative(root, dir);
  if (rel === '') return 'INBOX';
  const parts = rel.split(sep).flatMap((p) => (p.startsWith('.') ? p.slice(1).split('.') : [p]));
  return parts.filter((p) => p !== '').join('/') || 'INBOX';
}

export async function listMaildir(root: string): Promise<MaildirListing> {
  const top = await lstat(root).catch(() => null);
  if (top === null) throw new Error(`${root} does not exist`);
  if (!top.isDirectory()) throw new Error(`${root} is not a directory`);
  const folders: MaildirFolder[] = [];
  const skipped = { tmp: 0, other: 0 };
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    const names = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
    const isFolder = names.has('cur') || names.has('new');
    if (isFolder) {
      const files: MaildirFolder['files'] = [];
      for (const sub of ['cur', 'new'] as const) {
        if (!names.has(sub)) continue;
        for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
          if (e.isFile() && !e.name.startsWith('.')) files.push({ sub, name: e.name });
          else skipped.other++;
        }
      }
      files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      folders.push({ name: folderName(root, dir), dir, files });
      if (names.has('tmp')) skipped.tmp += (await readdir(join(dir, 'tmp'))).length;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (isFolder && (e.name === 'cur' || e.name === 'new' || e.name === 'tmp')) continue;
        if (depth < MAX_DEPTH) await walk(join(dir, e.name), depth + 1);
      } else skipped.other++;
    }
  };
  await walk(root, 0);
  folders.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : 1));
  return { folders, skipped };
}

/** Maildir flags from a file name (`...:2,FRS`): seen is what matters to a mailbox. */
export function maildirFlags(name: string): { seen: boolean } {
  const i = name.lastIndexOf(':2,');
  return { seen: i >= 0 && name.slice(i + 3).includes('S') };
}

/** A folder that holds what the account sent (its messages are outbound). */
export function isSentFolder(name: string): boolean {
  const last = name.split('/').at(-1)!.toLowerCase();
  return ['sent', 'sent items', 'sent messages', 'sent mail', 'envoyés', 'messages envoyés'].includes(last);
}

export async function readMaildirFile(folder: MaildirFolder, file: MaildirFolder['files'][number]): Promise<Buffer> {
  return readFile(join(folder.dir, file.sub, file.name));
}
