import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { startInstance } from '../app/instance.app.ts';
import { CONFIG_FILE_NAME } from '../config/config.loader.ts';
import { configFrom } from './context.ts';
import { initInstance, untilSignal } from './instance.commands.ts';
import { generatePassword } from './prompt.ts';

interface DemoCredentials {
  domain: string;
  accounts: { username: string; password: string; role: 'user' | 'admin' }[];
}

/**
 * `npm start`: one instance on embedded defaults with a demo user and a demo admin, created on the first run and
 * reused afterwards (data under one directory). Prints what to open and how to log in.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a demo instance on embedded defaults (creates it on first run, reuses it after)')
    .option('--data-dir <dir>', 'where the demo keeps its data', process.env.CALIOPEN_DATA_DIR ?? '.data/demo')
    .option('--port <port>', 'HTTP port', process.env.CALIOPEN_HTTP_PORT ?? '8080')
    .action(async (opts: { dataDir: string; port: string }) => {
      const dataDir = resolve(opts.dataDir);
      const credentialsFile = join(dataDir, 'demo-credentials.json');
      if (!existsSync(join(dataDir, CONFIG_FILE_NAME))) {
        await initInstance({ domain: 'demo.test', dataDir, httpPort: opts.port }, () => {});
      }
      // The demo receives mail too (SMTP on 2525 unless CALIOPEN_SMTP_PORT / CALIOPEN_SMTP_ENABLED say otherwise).
      const smtpEnabled = process.env.CALIOPEN_SMTP_ENABLED !== 'false';
      const config = configFrom({ dataDir }, { http: { port: Number(opts.port) }, smtp: { enabled: smtpEnabled } });
      const running = await startInstance(config);
      let credentials: DemoCredentials;
      if (existsSync(credentialsFile)) {
        credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as DemoCredentials;
      } else {
        credentials = { domain: config.domain, accounts: [] };
        for (const [username, role] of [['demo', 'user'], ['admin', 'admin']] as const) {
          const password = generatePassword();
          await running.services.accounts.create({ username, password, role, displayName: username === 'demo' ? 'Demo User' : 'Instance Admin' });
          credentials.accounts.push({ username, password, role });
        }
        writeFileSync(credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
      }
      const demo = credentials.accounts.find((a) => a.role === 'user')!;
      console.log(`
Caliopen demo instance "${config.domain}" is running (data in ${dataDir}).

  API        ${running.url}/api/v1
  API docs   ${running.url}/api/docs
  health     ${running.url}/healthz
  SMTP       ${running.smtp ? `${running.smtp.host}:${running.smtp.port} (mail to demo@${config.domain})` : 'off'}
  public     ${running.publicUrl ?? 'off'} (descriptor and registry challenges, instance certificate)

Log in (accounts in ${credentialsFile}):
${credentials.accounts.map((a) => `  ${a.role.padEnd(5)}  ${a.username} / ${a.password}`).join('\n')}

  curl -s -X POST ${running.url}/api/v1/auth/login -H 'content-type: application/json' \\
       -d '{"username":"${demo.username}","password":"${demo.password}"}'

Ctrl-C stops it; the next start reuses the same data.`);
      await untilSignal();
      console.log('Stopping…');
      await running.stop();
    });
}
