// oidc-provider ships no TypeScript types. This declares only the surface the test IdP
// (test/harness/idp.ts) uses; `any` stays confined to this file.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  /** The koa context oidc-provider hands to grant handlers and config callbacks. */
  export type ProviderContext = any;

  export class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    urlFor(name: string): string;
    registerGrantType(
      name: string,
      handler: (ctx: ProviderContext) => Promise<void>,
      params?: string | string[] | Set<string>,
    ): void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    // Model classes (constructors with provider-specific statics).
    readonly AccessToken: any;
    readonly Grant: any;
    readonly ResourceServer: any;
  }

  type OidcError = new (description?: string) => Error;
  export const errors: {
    InvalidGrant: OidcError;
    InvalidRequest: OidcError;
    InvalidTarget: OidcError;
  };

  export default Provider;
}

// The in-memory adapter's factory: one store for every provider built with it, so tokens
// outlive a rebuilt provider (the test IdP's key rotation).
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  export function createMemoryAdapter(clockTolerance?: number): (model: string) => unknown;
}
