// Minimal typings of the xmpp.js packages used by xmpp-session.xmppjs.ts (they ship none).
declare module '@xmpp/client-core' {
  export interface XmlElement {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (XmlElement | string)[];
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildren(name: string, xmlns?: string): XmlElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    toString(): string;
  }
  export function xml(name: string, attrs?: Record<string, string | undefined>, ...children: unknown[]): XmlElement;
  export function jid(...args: string[]): {
    local: string;
    domain: string;
    resource: string;
    bare(): { toString(): string };
    toString(): string;
  };
  export class Client {
    constructor(options: Record<string, unknown>);
    [key: string]: any;
  }
}
declare module '@xmpp/reconnect';
declare module '@xmpp/tcp';
declare module '@xmpp/middleware';
declare module '@xmpp/stream-features';
declare module '@xmpp/iq/caller.js';
declare module '@xmpp/iq/callee.js';
declare module '@xmpp/sasl';
declare module '@xmpp/sasl-scram-sha-1';
declare module '@xmpp/sasl-plain';
declare module '@xmpp/resource-binding';
declare module '@xmpp/starttls/starttls.js';
declare module 'saslmechanisms';
declare module '@xmpp/client';
