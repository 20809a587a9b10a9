/**
 * P3: the anchor corpus (../shared/bench/corpus.mjs, a Maildir tree) imported through the product's own ingest —
 * `caliopen import maildir DIR --account NAME`, which parses, scores, files in batches and waits until the search
 * index has caught up — and, in the same run, notmuch on the same corpus (../shared/bench/notmuch-search.sh: a fresh
 * `notmuch new`, then the queries of ../shared/bench/queries.txt). Then the median query latency of the same queries on
 * the product's search index (in process, first page of 50, REPS runs each), and the ratios.
 *
 *   N=10000 node --import tsx tests/bench/file-import.bench.ts      # ANCHOR=0 skips notmuch
 *   SEARCH=opensearch ANCHOR=0 N=10000 node --import tsx tests/bench/file-import.bench.ts
 *
 * SEARCH=opensearch starts the embedded OpenSearch 2.19 of the tests (tests/support/engines/opensearch.ts) and runs the
 * import with CALIOPEN_SEARCH=opensearch, so the same ingest indexes into it; the queries then run on it.
 *
 * The corpus is generated once into /var/tmp/anchor-notmuch/corpus-N (where notmuch-search.sh looks for it) and reused.
 * Query syntax: notmuch's `date:A..B` is given to the product as `after:A before:B+1day`; `OR` has no equivalent in
 * the product's search language (it is read as words): hit counts are printed side by side. Never used as a test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccountService } from '@caliopen/instance/accounts/account.service.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { parseSearchQuery } from '@caliopen/instance/search/search.query-parser.ts';
import { openOpenSearchIndex } from '@caliopen/instance/search/search.opensearch.ts';
import type { SearchIndex } from '@caliopen/instance/search/search.port.ts';
import { openSqliteSearchIndex } from '@caliopen/instance/search/search.sqlite.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { systemClock } from '@caliopen/platform/clock/clock.port.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { type OpenSearchServer, startOpenSearch } from '../support/engines/opensearch.ts';
import { tempDir } from '../support/tmp.ts';

const N = Number(process.env.N ?? 10_000);
const REPS = Number(process.env.REPS ?? 5);
const ANCHOR = process.env.ANCHOR !== '0';
const SEARCH = process.env.SEARCH === 'opensearch' ? 'opensearch' : 'sqlite';
const root = fileURLToPath(new URL('../..', import.meta.url));
const BENCH = join(root, '../shared/bench');
const WORKBASE = process.env.WORKBASE ?? '/var/tmp/anchor-notmuch';
const CORPUS = join(WORKBASE, `corpus-${N}`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function corpus(): void {
  if (existsSync(`${CORPUS}.manifest.json`) && existsSync(CORPUS)) {
    console.log(`corpus: reusing ${CORPUS}`);
    return;
  }
  console.log(`corpus: generating N=${N} into ${CORPUS}`);
  const r = spawnSync(process.execPath, [join(BENCH, 'corpus.mjs'), String(N), '--out', CORPUS, '--force'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error('corpus.mjs failed');
}

function toProductQuery(q: string): string {
  return q.replace(/date:(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})/g, (_, a: string, b: string) => {
    const next = new Date(`${b}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    return `after:${a} before:${next.toISOString().slice(0, 10)}`;
  });
}

async function main() {
  console.log(
    `P3 import bench: N=${N}, REPS=${REPS}, load average ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  corpus();
  const manifest = JSON.parse(readFileSync(`${CORPUS}.manifest.json`, 'utf8')) as { sha256: string; bytes?: number };
  console.log(`corpus sha256 ${manifest.sha256}`);

  const tmp = tempDir('caliopen-bench-import-');
  const dataDir = join(tmp.dir, 'instance');
  let opensearch: OpenSearchServer | undefined;
  try {
    const engineEnv: Record<string, string> = {};
    if (SEARCH === 'opensearch') {
      opensearch = await startOpenSearch();
      console.log(
        `search engine: OpenSearch 2.19.6 at ${opensearch.url}, yellow/green after ${opensearch.startupMs} ms`,
      );
      Object.assign(engineEnv, { CALIOPEN_SEARCH: 'opensearch', OPENSEARCH_URL: opensearch.url });
    } else {
      console.log('search engine: SQLite FTS5');
    }
    await initInstance({ domain: 'home.example', dataDir, httpPort: '0' }, () => {});
    const storage = SqliteStorage.inDataDir(dataDir);
    const account = await new AccountService(storage, new PasswordHasher(), systemClock, 1024 ** 4).create({
      username: 'alex',
      password: 'pw-alex-0123456789',
    });
    await storage.close();

    // 1. The product: the whole command, process start included, until the index has caught up.
    spawnSync('sync');
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'cli/bin/caliopen.mjs'),
        'import',
        'maildir',
        CORPUS,
        '--account',
        'alex',
        '--data-dir',
        dataDir,
        '--json',
      ],
      {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...engineEnv },
      },
    );
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`caliopen import failed (${r.status})`);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      imported: number;
      reported: number;
      filedSeconds: number;
    };
    const oursRate = summary.imported / (ms / 1000);
    console.log(
      `caliopen: imported ${summary.imported} (${summary.reported} reported) in ${(ms / 1000).toFixed(1)} s = ${Math.round(oursRate)} msg/s parsed, scored, filed and indexed (filed after ${summary.filedSeconds.toFixed(1)} s)`,
    );

    // 2. The product's queries, on the index the import built.
    const index: SearchIndex =
      opensearch !== undefined
        ? openOpenSearchIndex({ url: opensearch.url, indexPrefix: 'caliopen-home-example' })
        : openSqliteSearchIndex(join(dataDir, 'search.db'));
    await index.init();
    await index.refresh();
    const lines = readFileSync(join(BENCH, 'queries.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.split('\t') as [string, string]);
    const medians: number[] = [];
    console.log('id    median_ms     hits  query (as given to the product)');
    for (const [id, q] of lines) {
      const query = { ...parseSearchQuery(toProductQuery(q)), limit: 50 };
      const times: number[] = [];
      let total = 0;
      for (let i = 0; i < REPS; i++) {
        const s = performance.now();
        total = (await index.search(account.id, query)).total;
        times.push(performance.now() - s);
      }
      medians.push(median(times));
      console.log(
        `${id.padEnd(4)} ${median(times).toFixed(2).padStart(10)} ${String(total).padStart(8)}  ${toProductQuery(q)}`,
      );
    }
    await index.close();
    const oursQuery = median(medians);
    console.log(`caliopen: import ${Math.round(oursRate)} msg/s, query median ${oursQuery.toFixed(2)} ms (N=${N})`);

    // 3. The anchor, same corpus, same run.
    if (!ANCHOR) return;
    const a = spawnSync('bash', [join(BENCH, 'notmuch-search.sh'), String(N)], {
      encoding: 'utf8',
      env: { ...process.env, N: String(N), REPS: String(REPS), WORKBASE },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    process.stdout.write(a.stdout);
    const m = /notmuch: index (\d+) msg\/s, query median ([\d.]+) ms/.exec(a.stdout);
    if (!m) {
      console.log('anchor: no figure (see above)');
      return;
    }
    const [nmRate, nmQuery] = [Number(m[1]), Number(m[2])];
    console.log(`\nratio (P3 targets): import caliopen/notmuch = ${(oursRate / nmRate).toFixed(2)} (>= 1.0 wanted)`);
    console.log(
      `                   query median caliopen/notmuch = ${(oursQuery / nmQuery).toFixed(2)} (<= 1.0 wanted)`,
    );
  } finally {
    await opensearch?.stop();
    tmp.cleanup();
  }
}

await main();
