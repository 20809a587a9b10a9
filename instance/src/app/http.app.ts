import { buildApiServer } from '@caliopen/platform/http/server.bootstrap.ts';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { adminRoutes } from '../accounts/admin.routes.ts';
import { accountExportRoutes } from '../account-export/account-export.routes.ts';
import { accountDeletionRoutes } from '../account-deletion/account-deletion.routes.ts';
import { journalRoutes } from '../admin-journal/journal.routes.ts';
import { operationsRoutes } from '../operations/operations.routes.ts';
import { operationsDeps } from './operations.wiring.ts';
import { meRoutes } from '../accounts/me.routes.ts';
import { appPasswordRoutes } from '../app-passwords/app-password.routes.ts';
import { contactRoutes } from '../contacts/contact.routes.ts';
import { contactKeyRoutes } from '../keys/contact-key.routes.ts';
import { accountKeyRoutes } from '../keys/account-key.routes.ts';
import { keyAlertRoutes } from '../keys/key-alert.routes.ts';
import { conversationRoutes } from '../conversations/conversation.routes.ts';
import { deviceRoutes } from '../devices/device.routes.ts';
import { composeRoutes } from '../email/compose.routes.ts';
import { remoteIdentityRoutes } from '../identities/remote-identity.routes.ts';
import { sendAsRoutes } from '../identities/send-as.routes.ts';
import { imapImportRoutes } from '../imports/imap-import.routes.ts';
import { xmppRoutes } from '../xmpp/xmpp.routes.ts';
import { messageRoutes } from '../messages/message.routes.ts';
import { messageHtmlRoutes } from '../messages/message-html.routes.ts';
import { privacyRoutes } from '../privacy/privacy.routes.ts';
import { federationStatusRoutes } from '../federation/standing.routes.ts';
import { trustSharingRoutes } from '../federation/trust-sharing.routes.ts';
import { routePreviewRoutes } from '../routing/route-preview.routes.ts';
import { authRoutes } from '../sessions/auth.routes.ts';
import { instanceErrors } from '../shared/errors.ts';
import type { InstanceServices } from './instance.services.ts';
import { installAccessControl, type RouteEntry } from '../api/access.ts';
import { healthRoutes } from '../http/health.routes.ts';
import { liveEventRoutes, DEFAULT_LIVE_HEARTBEAT_SECONDS } from '../live/live-event.routes.ts';
import { noticeRoutes } from '../notices/notice.routes.ts';
import { webAppPlugin } from '../http/web-app.plugin.ts';
import { acmeChallengeRoutes } from '../certificates/acme-challenge.routes.ts';

export interface HttpServer {
  app: FastifyInstance;
  /** Every route with its declared access: what the authorization walk test walks. */
  routes: RouteEntry[];
}

/**
 * Builds the instance's HTTP API (part of the composition root) on the platform's bootstrap (problem+json errors,
 * validation, access check, metrics, rate limiting, OpenAPI at /api/docs), then every domain's routes, each given the
 * services it uses.
 */
export async function buildHttpServer(
  services: InstanceServices,
  logger: FastifyServerOptions['loggerInstance'],
): Promise<HttpServer> {
  const { config } = services;
  const { app, routes } = await buildApiServer({
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    errors: instanceErrors,
    installAccess: (app) => installAccessControl(app, (token) => services.auth.authenticate(token)),
    noStore: (request) => request.url.startsWith('/api/v1/'),
    httpDuration: services.metrics.httpDuration,
    openapi: {
      title: 'Caliopen instance API',
      description: 'Errors are application/problem+json with a stable `code` (see docs/errors.md).',
      bearerByDefault: true,
    },
    docsPrefix: '/api/docs',
  });

  await app.register(healthRoutes, {
    services: {
      domain: config.domain,
      storage: services.storage,
      queue: services.queue,
      search: services.search,
      metrics: services.metrics,
    },
  });
  // ACME HTTP-01 answers (acme.enabled): the CA reaches them through port 80, forwarded to this port.
  await app.register(acmeChallengeRoutes, { board: services.acmeChallenges });
  await app.register(authRoutes, {
    auth: services.auth,
    metrics: services.metrics,
    loginRateLimitPerMinute: config.auth.loginRateLimitPerMinute,
  });
  await app.register(meRoutes, { accounts: services.accounts, auth: services.auth, hasher: services.hasher });
  await app.register(appPasswordRoutes, { appPasswords: services.appPasswords });
  await app.register(deviceRoutes, { devices: services.devices, privacy: services.privacy });
  await app.register(conversationRoutes, { conversations: services.conversations });
  await app.register(messageRoutes, { messages: services.messages, privacy: services.privacy });
  await app.register(messageHtmlRoutes, { messages: services.messages, remoteImages: config.remoteImages });
  await app.register(privacyRoutes, { privacy: services.privacy });
  await app.register(trustSharingRoutes, { sharing: services.trustSharing, clock: services.clock });
  await app.register(federationStatusRoutes, { domain: config.domain, directory: () => services.federation ?? null });
  await app.register(contactRoutes, { contacts: services.contacts, privacy: services.privacy });
  await app.register(contactKeyRoutes, { contacts: services.contacts, keys: services.keys });
  await app.register(accountKeyRoutes, { keys: services.accountKeys });
  await app.register(accountExportRoutes, { exports: services.accountExport });
  await app.register(accountDeletionRoutes, {
    deletions: services.accountDeletion,
    usernameOf: async (id) => (await services.storage.accounts.get(id))?.username ?? null,
    passwordChecksPerMinute: config.auth.loginRateLimitPerMinute,
  });
  await app.register(keyAlertRoutes, { alerts: services.keyAlerts });
  await app.register(remoteIdentityRoutes, { identities: services.identities });
  await app.register(sendAsRoutes, { sendAs: services.sendAs });
  await app.register(imapImportRoutes, { imports: services.imports });
  await app.register(xmppRoutes, { xmpp: services.xmpp });
  await app.register(adminRoutes, { accounts: services.accounts });
  await app.register(journalRoutes, { journal: services.journal });
  await app.register(operationsRoutes, { ops: operationsDeps(services) });
  await app.register(composeRoutes, {
    compose: services.outbound.compose,
    maxAttachmentBytes: config.outbound.maxAttachmentBytes,
  });
  await app.register(routePreviewRoutes, { routes: services.routes });
  await app.register(noticeRoutes, { notices: services.notices });
  await app.register(liveEventRoutes, {
    hub: services.live,
    authenticate: (token) => services.auth.authenticate(token),
    heartbeatSeconds: config.http.liveHeartbeatSeconds ?? DEFAULT_LIVE_HEARTBEAT_SECONDS,
    clock: services.clock,
  });
  // The user's web app at / (web/dist), after the API so that /api keeps its own 404.
  await app.register(webAppPlugin);

  return { app, routes };
}
