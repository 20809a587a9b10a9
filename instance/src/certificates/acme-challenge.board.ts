/**
 * The HTTP-01 answers an order in progress expects (token -> key authorization), held in memory by the process that
 * asked for the certificate and served on the HTTP port by acme-challenge.routes.ts. Only the process that orders
 * answers: with several processes behind one address, the load balancer sends /.well-known/acme-challenge/ to the
 * one that has ACME enabled (docs/ops/acme.md).
 */
export class AcmeChallengeBoard {
  private readonly answers = new Map<string, string>();

  put(token: string, keyAuthorization: string): void {
    this.answers.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.answers.delete(token);
  }

  answer(token: string): string | null {
    return this.answers.get(token) ?? null;
  }
}
