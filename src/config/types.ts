import type { Cidr } from './networks.js';

export interface ListenAddress { readonly host: string; readonly port: number }

export type BackendTlsMode = 'starttls' | 'implicit' | 'none';

/** A certificate for some domains, picked by the client's SNI (`*.example.com` matches one label). */
export interface SniCertificate { readonly names: readonly string[]; readonly certPath: string; readonly keyPath: string }

export type IntrospectionMode = 'auth' | 'get' | 'post' | 'local' | 'auto';

/** Which opaque tokens (not a JWT of a configured issuer) an issuer is sent (issue 16). */
export type OpaqueTokenRoute = 'all' | 'none' | { readonly prefixes: readonly string[] };

/** One token issuer (issue 4): how its tokens are validated, mapped to a mailbox and authorized. */
export interface IssuerConfig {
  readonly name: string;
  readonly mode: IntrospectionMode;
  /** userinfo (auth), tokeninfo (get) or RFC 7662 endpoint (post, auto); '' = from discovery. */
  readonly introspectionUrl: string;
  /** Exact `iss`; '' = none (then no discovery). */
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  /** Accepted JWT header typ values, lower-case, without "application/"; empty = unchecked. */
  readonly jwtTypes: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly client: { readonly id: string; readonly secret: string; readonly auth: 'basic' | 'post' } | null;
  readonly usernameAttribute: string;
  readonly defaultDomain: string;
  readonly requiredScopes: readonly string[];
  readonly requiredGroups: readonly string[];
  readonly groupsClaim: string;
  readonly allowedDomains: readonly string[];
  readonly requireEmailVerified: boolean;
  readonly opaqueTokens: OpaqueTokenRoute;
}

export interface Config {
  readonly listen: {
    readonly imap: ListenAddress | null;
    readonly imaps: ListenAddress | null;
    readonly submission: ListenAddress | null;
    readonly submissions: ListenAddress | null;
    /** ManageSieve (RFC 5804); off unless configured. */
    readonly managesieve: ListenAddress | null;
    readonly pop3: ListenAddress | null;
    readonly pop3s: ListenAddress | null;
  };
  readonly tls: { readonly certPath: string; readonly keyPath: string } | null;
  readonly allowPlaintextAuth: boolean;
  /** ALLOW_CLIENT_MASTER_LOGIN: clients may use Dovecot master logins (impersonation) through the proxy. */
  readonly allowClientMasterLogin: boolean;
  /** APP_PASSWORDS_FILE: the app-password state file; '' = app passwords off. */
  readonly appPasswordsFile: string;
  readonly oauth2: {
    readonly timeoutMs: number;
    readonly maxResponseBytes: number;
    /** One implicit issuer from the env keys (the DMS-compatible OAUTH2_* keys), or the YAML issuers: list; never empty. */
    readonly issuers: readonly IssuerConfig[];
    readonly cache: { readonly ttlSeconds: number; readonly negativeSeconds: number; readonly maxEntries: number };
    readonly jwksCooldownSeconds: number;
  };
  readonly backend: {
    readonly host: string;
    readonly imapPort: number;
    readonly tls: BackendTlsMode;
    readonly tlsVerify: boolean;
    readonly caFile: string | null;
    readonly servername: string;
    readonly masterUser: string;
    readonly masterPassword: string;
    readonly timeoutMs: number;
    readonly submissionPort: number;
    readonly submissionTls: BackendTlsMode;
    readonly submissionLogin: 'master' | 'xclient';
    readonly managesievePort: number;
    readonly managesieveTls: BackendTlsMode;
    readonly pop3Port: number;
    readonly pop3Tls: BackendTlsMode;
  };
  readonly smtp: {
    readonly hostname: string;
    readonly maxLineBytes: number;
  };
  readonly imap: {
    readonly maxLineBytes: number;
    readonly maxLiteralBytes: number;
    readonly maxBadCommands: number;
  };
  /** Timers of every client session, whatever its protocol. */
  readonly sessions: {
    /** From connect to a completed login (SMTP: idle time between commands before AUTH). */
    readonly preauthTimeoutMs: number;
    /** A spliced session with no traffic either way for this long is closed. */
    readonly idleTimeoutMs: number;
  };
  readonly logLevel: string;
  readonly proxyProtocol: {
    /** Networks whose connections must start with a PROXY header; empty when off. */
    readonly trustedNetworks: readonly Cidr[];
    readonly timeoutMs: number;
    readonly toImap: boolean;
    readonly toSubmission: boolean;
    readonly toManagesieve: boolean;
    readonly toPop3: boolean;
  };
  readonly limits: {
    readonly authFailWindowMs: number;
    readonly authFailMaxPerIp: number;
    readonly authFailMaxPerUser: number;
    readonly authFailBlockMs: number;
    readonly authFailDelayMs: number;
    readonly authFailDelayMaxMs: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
    /** IPv6 clients are counted by this prefix length in per-IP limits. */
    readonly ipv6ClientPrefix: number;
    readonly maxPreauthSessions: number;
  };
  /** Extra certificates chosen by SNI (YAML `certificates:`), besides SSL_CERT_PATH/SSL_KEY_PATH. */
  readonly sniCertificates: readonly SniCertificate[];
  readonly ops: {
    readonly listenHttp: ListenAddress | null;
    readonly shutdownGraceMs: number;
    readonly tlsReloadIntervalMs: number;
  };
  /** SCIM 2.0 provisioning into DMS (issue 8); null when LISTEN_SCIM is empty. */
  readonly scim: ScimConfig | null;
  /** Accounts created on first login (issue 19); null when PROVISION_ON_LOGIN is off. */
  readonly provision: ProvisionConfig | null;
  /** The store shared by replicas (issue 20); null when SHARED_STATE_URL is empty. */
  readonly sharedState: SharedStateConfig | null;
  /** The self-service app-password page (issue 19); null when LISTEN_PORTAL is empty. */
  readonly portal: PortalConfig | null;
}

export interface PortalConfig {
  readonly listen: ListenAddress;
  /** PORTAL_URL's origin (https://host[:port]): links, the Origin check, the redirect URI. */
  readonly origin: string;
  /** `${origin}/callback`, registered at the IdP. */
  readonly redirectUri: string;
  readonly clientId: string;
  /** '' = a public client (PKCE alone). */
  readonly clientSecret: string;
  /** The issuer users sign in with (discovery). */
  readonly issuer: string;
  readonly scopes: readonly string[];
  /** Longest a sign-in lasts. */
  readonly sessionTtlMs: number;
}

export interface SharedStateConfig {
  /** redis:// or rediss:// */
  readonly url: string;
  /** From SHARED_STATE_PASSWORD_FILE; undefined: the URL's own, if any. */
  readonly password?: string;
  readonly timeoutMs: number;
}

export interface ProvisionConfig {
  /** DMS's config directory: the account line goes into its postfix-accounts.cf. */
  readonly dmsConfigDir: string;
  /** Longest wait after writing the line for Dovecot to accept the master login (DMS's change detection). */
  readonly waitMs: number;
}

export interface ScimConfig {
  readonly listen: ListenAddress;
  readonly token: string;
  /** DMS's config directory: postfix-accounts.cf, postfix-virtual.cf, the proxy's state file. */
  readonly dmsConfigDir: string;
  /** A deactivated user's account is removed this long after deactivation; 0: never. */
  readonly removeDeactivatedAfterMs: number;
}
