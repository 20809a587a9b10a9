import { freePort } from '../../../tests/support/net.ts';
import { startSmtpSink } from '../../../tests/support/smtp-sink.ts';
import { MxResolver } from './mx-resolver.ts';
import { describeTransportConformance } from './transport.conformance.ts';
import { SmtpTransport } from './transport.smtp.ts';

// SMTP against a real SMTP server (smtp-server on a loopback port) playing remote.test's MX: 250, 451 and 550 by RCPT.
describeTransportConformance('SMTP', async () => {
  const sink = await startSmtpSink({ port: await freePort() });
  sink.behaviour.rejectRecipients.set('later@remote.test', '451 4.2.0 Mailbox busy, try later');
  sink.behaviour.rejectRecipients.set('gone@remote.test', '550 5.1.1 No such user here');
  return {
    transport: new SmtpTransport({
      domain: 'alpha.test',
      clock: () => new Date(),
      resolver: new MxResolver({ mxOverride: [`remote.test=127.0.0.1:${sink.port}`] }),
      tlsPolicy: 'opportunistic',
      timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 10_000 },
    }),
    domain: 'remote.test',
    accepted: 'ok@remote.test',
    temporary: 'later@remote.test',
    permanent: 'gone@remote.test',
    stop: () => sink.stop(),
  };
});
