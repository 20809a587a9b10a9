/**
 * Who may call a route, as every Caliopen HTTP server declares it in `config.access` on each route (the server
 * refuses a route without one, and the authorization walk tests read the same declaration). What each level means is
 * the server's own business (the instance: any account / administrators; the registry: applicant / auditors):
 * - public: anyone; user: an authenticated caller; admin: the operators of the server.
 */
export type Access = 'public' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}
