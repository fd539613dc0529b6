// The configuration keys. Environment variable names are a public contract: DMS users set
// them in compose files (the OAUTH2_* names are DMS's own). A YAML file given with
// --config may set the same keys; the environment wins over the file.
//
// This table is the single source for parsing, defaults and the key table of docs/configuration.md
// (written by `npm run docs:config`; test/config/readme.test.ts fails while that page is stale).
import type { ListenAddress } from './types.js';

export type KeyKind = 'string' | 'url' | 'int' | 'bool' | 'listen' | 'enum' | 'file' | 'secret';

export interface KeySpec {
  readonly name: string;
  readonly kind: KeyKind;
  readonly default: string;
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Settable per issuer: in a YAML `issuers:` item as the lower-case name without OAUTH2_ (issue 4). */
  readonly perIssuer?: boolean;
}

/** A key whose name, kind and (enum) values the compiler knows, so its parsed value is a typed field. */
type TypedSpec<N extends string, K extends KeyKind, V extends string, P extends boolean = boolean> =
  KeySpec & { readonly name: N; readonly kind: K; readonly values?: readonly V[]; readonly perIssuer?: P };

const k = <const N extends string, const K extends KeyKind, const V extends string = string, const P extends boolean = false>(
  name: N, kind: K, def: string, doc: string, extra: Partial<Omit<KeySpec, 'values' | 'perIssuer'>> & { readonly values?: readonly V[]; readonly perIssuer?: P } = {},
): TypedSpec<N, K, V, P> => ({ ...extra, name, kind, default: def, doc }) as TypedSpec<N, K, V, P>;

const TABLE = [
  // Listeners (an empty value disables one)
  k('LISTEN_IMAP', 'listen', '0.0.0.0:143', 'IMAP listener, plaintext with STARTTLS. Empty disables it.'),
  k('LISTEN_IMAPS', 'listen', '0.0.0.0:993', 'IMAP listener with implicit TLS. Empty disables it.'),
  k('LISTEN_SUBMISSION', 'listen', '0.0.0.0:587', 'SMTP submission listener, plaintext with STARTTLS (required before AUTH). Empty disables it.'),
  k('LISTEN_SUBMISSIONS', 'listen', '0.0.0.0:465', 'SMTP submission listener with implicit TLS. Empty disables it.'),
  k('LISTEN_MANAGESIEVE', 'listen', '', 'ManageSieve listener (RFC 5804; DMS port 4190, e.g. 0.0.0.0:4190), plaintext with STARTTLS, for Roundcube\'s filter settings with OAuth. Empty (the default) disables it, so an upgrade opens no port for a service DMS may not run (ENABLE_MANAGESIEVE=1).'),
  k('LISTEN_POP3', 'listen', '', 'POP3 listener (e.g. 0.0.0.0:110), plaintext with STLS. Empty (the default) disables it.'),
  k('LISTEN_POP3S', 'listen', '', 'POP3 listener with implicit TLS (e.g. 0.0.0.0:995). Empty (the default) disables it.'),
  k('SMTP_HOSTNAME', 'string', '', 'Host name in the SMTP greeting and EHLO reply (default: the machine\'s host name).'),
  k('SSL_CERT_PATH', 'file', '', 'PEM certificate chain for the client-facing TLS (same name as in DMS).'),
  k('SSL_KEY_PATH', 'file', '', 'PEM private key for SSL_CERT_PATH.'),
  k('ALLOW_PLAINTEXT_AUTH', 'bool', '0', 'Allow authentication before TLS (1) or advertise LOGINDISABLED and refuse it (0).'),
  k('APP_PASSWORDS_FILE', 'string', '', 'State file of the users\' app passwords (JSON, scrypt hashes only; written atomically, mode 0600). Set it to turn app passwords on: the proxy checks them itself on IMAP LOGIN/AUTHENTICATE PLAIN|LOGIN and SMTP AUTH PLAIN|LOGIN and logs in to DMS with the master account; any other password goes to DMS as before. Managed with `oauth2-mail-proxy app-password`. The proxy must be able to write in its directory (checked at start-up). With SHARED_STATE_URL the app passwords live in the shared store instead, and this file is only read, imported into it once. Empty: off.'),
  k('ALLOW_CLIENT_MASTER_LOGIN', 'bool', '0', 'Let clients log in through the proxy as another user with a Dovecot master account (user*master, or SASL PLAIN with an authzid other than the user name), passed through to DMS. 0: refused. With 1, SCIM deactivation and revocation apply to the target user.'),

  // Identity provider
  k('OAUTH2_INTROSPECTION_URL', 'url', '', 'Token validation URL. Mode auth: the OIDC userinfo endpoint (as in DMS); get: the tokeninfo endpoint; post: the RFC 7662 introspection endpoint. Empty with OAUTH2_ISSUER set: taken from discovery.', { perIssuer: true }),
  k('OAUTH2_INTROSPECTION_MODE', 'enum', 'auth', 'How tokens are validated: auth = GET with Authorization: Bearer (OIDC userinfo, as DMS does); get = GET with ?access_token= (Google tokeninfo); post = RFC 7662 introspection with the proxy\'s client credentials; local = verify a JWT access token against the issuer\'s JWKS; auto = local for JWTs of OAUTH2_ISSUER, anything else introspected (post; needs OAUTH2_CLIENT_ID).', { values: ['auth', 'get', 'post', 'local', 'auto'], perIssuer: true }),
  k('OAUTH2_USERNAME_ATTRIBUTE', 'string', 'email', 'Claim path holding the mailbox address (wild-wild-path syntax; space-separated alternatives tried in order).', { perIssuer: true }),
  k('OAUTH2_TIMEOUT_MS', 'int', '5000', 'Total time allowed for one IdP request (and the longest a login waits for a JWKS refetch); past it the login fails with UNAVAILABLE.', { min: 100, max: 60000 }),
  k('OAUTH2_MAX_RESPONSE_BYTES', 'int', '65536', 'Largest IdP response body read; a larger one is an IdP error.', { min: 1024, max: 10485760 }),
  // Token validation (issue 4). perIssuer keys are also the defaults of every YAML issuers: item.
  k('OAUTH2_ISSUER', 'string', '', 'Issuer identifier, exactly as in the tokens\' iss; enables OIDC discovery (ISSUER/.well-known/openid-configuration). Required for local and auto.', { perIssuer: true }),
  k('OAUTH2_JWKS_URL', 'url', '', 'JWKS URL for local/auto (default: jwks_uri from discovery).', { perIssuer: true }),
  k('OAUTH2_AUDIENCE', 'string', '', 'Accepted audience(s), space-separated: one must be in the token\'s aud (or azp); an introspection or tokeninfo answer without one is refused. Required for local and auto; checked in post and get when set.', { perIssuer: true }),
  k('OAUTH2_ALGORITHMS', 'string', 'RS256 PS256 ES256 ES384 EdDSA', 'JWS algorithms accepted in local/auto (asymmetric only: none and HS* are refused).', { perIssuer: true }),
  k('OAUTH2_JWT_TYP', 'string', 'at+jwt', 'Accepted JWT header typ values in local/auto (RFC 9068 §2.1: at+jwt). Keycloak, Authentik and Entra send JWT: set JWT. Empty: not checked.', { perIssuer: true }),
  k('OAUTH2_CLOCK_TOLERANCE_SECONDS', 'int', '30', 'Clock skew allowed when checking exp and nbf.', { min: 0, max: 300, perIssuer: true }),
  k('OAUTH2_CLIENT_ID', 'string', '', 'The proxy\'s own client at the IdP, for modes post and auto (RFC 7662 client authentication).', { perIssuer: true }),
  k('OAUTH2_CLIENT_SECRET', 'secret', '', 'Secret of OAUTH2_CLIENT_ID.', { perIssuer: true }),
  k('OAUTH2_CLIENT_SECRET_FILE', 'file', '', 'File holding the client secret (Docker/Kubernetes secret); used when OAUTH2_CLIENT_SECRET is empty.', { perIssuer: true }),
  k('OAUTH2_CLIENT_AUTH', 'enum', 'basic', 'Client authentication at the introspection endpoint: basic (client_secret_basic) or post (client_secret_post).', { values: ['basic', 'post'], perIssuer: true }),
  k('OAUTH2_DEFAULT_DOMAIN', 'string', '', 'Domain appended to a bare user name claim (alice -> alice@DOMAIN). Empty: a bare name is not a mailbox.', { perIssuer: true }),
  k('OAUTH2_REQUIRED_SCOPES', 'string', '', 'Scopes the token must all carry (scope or scp claim), space-separated. Not with mode auth (userinfo shows no scope).', { perIssuer: true }),
  k('OAUTH2_REQUIRED_GROUPS', 'string', '', 'The user must have at least one of these values (space-separated) at OAUTH2_GROUPS_CLAIM.', { perIssuer: true }),
  k('OAUTH2_GROUPS_CLAIM', 'string', 'groups', 'Claim path of the groups/roles list for OAUTH2_REQUIRED_GROUPS (Keycloak: realm_access.roles).', { perIssuer: true }),
  k('OAUTH2_ALLOWED_DOMAINS', 'string', '', 'Mailbox domains accepted, space-separated. Empty: any.', { perIssuer: true }),
  k('OAUTH2_OPAQUE_TOKENS', 'string', '', 'Which tokens that are not a JWT of a configured issuer (opaque ones) this issuer is sent: all, none, or space-separated prefixes (Google: ya29.). Empty: all when it is the only issuer, none in a list of several. A token goes to one issuer at most.', { perIssuer: true }),
  k('OAUTH2_REQUIRE_EMAIL_VERIFIED', 'bool', '0', 'Require email_verified to be true (off by default: Authelia always says true, Entra never sends it).', { perIssuer: true }),
  k('OAUTH2_CACHE_TTL_SECONDS', 'int', '300', 'Longest time a valid token\'s decision is reused without asking the IdP (never past the token\'s exp). 0: no positive caching.', { min: 0, max: 86400 }),
  k('OAUTH2_NEGATIVE_CACHE_SECONDS', 'int', '10', 'Time a rejected token\'s decision is reused. 0: not cached.', { min: 0, max: 3600 }),
  k('OAUTH2_CACHE_MAX_ENTRIES', 'int', '10000', 'Most valid token decisions kept (least recently used evicted first); rejected ones are kept apart, a quarter as many, so bad tokens never evict a valid one. 0 disables the cache.', { min: 0, max: 1000000 }),
  k('OAUTH2_JWKS_COOLDOWN_SECONDS', 'int', '30', 'Least time between two JWKS fetches caused by an unknown kid (key rotation). Meanwhile such a login waits for the refetch (if due within OAUTH2_TIMEOUT_MS) or gets UNAVAILABLE, never AUTHENTICATIONFAILED.', { min: 0, max: 3600 }),

  // Backend (DMS)
  k('DMS_HOST', 'string', 'mailserver', 'Host name or IP address of the DMS container, without port or scheme (the ports are DMS_*_PORT; an IPv6 address bare). A name is resolved at most every 10 s (again after a failed connect).'),
  k('DMS_IMAP_PORT', 'int', '143', 'DMS IMAP port.', { min: 1, max: 65535 }),
  k('DMS_TLS', 'enum', 'starttls', 'TLS to DMS: starttls, implicit (e.g. port 993) or none.', { values: ['starttls', 'implicit', 'none'] }),
  k('DMS_TLS_VERIFY', 'bool', '1', 'Verify the DMS certificate (chain and name).'),
  k('DMS_TLS_CA_FILE', 'file', '', 'PEM CA bundle that signed the DMS certificate (default: the system store).'),
  k('DMS_TLS_SERVERNAME', 'string', '', 'Name checked in the DMS certificate and sent as SNI (default: DMS_HOST).'),
  k('DMS_MASTER_USER', 'string', '', 'Dovecot master user (setup dovecot-master add NAME PASSWORD).'),
  k('DMS_MASTER_PASSWORD', 'secret', '', 'Password of DMS_MASTER_USER.'),
  k('DMS_MASTER_PASSWORD_FILE', 'file', '', 'File holding the master password (Docker/Kubernetes secret); used when DMS_MASTER_PASSWORD is empty.'),
  k('DMS_SUBMISSION_PORT', 'int', '587', 'DMS submission port (Postfix).', { min: 1, max: 65535 }),
  k('DMS_SUBMISSION_TLS', 'enum', 'starttls', 'TLS to DMS submission: starttls (587), implicit (465) or none.', { values: ['starttls', 'implicit', 'none'] }),
  k('DMS_SUBMISSION_LOGIN', 'enum', 'master', 'How the proxy logs in to Postfix for a token user: master (AUTH PLAIN as the master user for the token\'s user; stock DMS) or xclient (XCLIENT ADDR PORT LOGIN; needs smtpd_authorized_xclient_hosts).', { values: ['master', 'xclient'] }),
  k('DMS_MANAGESIEVE_PORT', 'int', '4190', 'DMS ManageSieve port (Dovecot managesieve, ENABLE_MANAGESIEVE=1).', { min: 1, max: 65535 }),
  k('DMS_MANAGESIEVE_TLS', 'enum', 'starttls', 'TLS to DMS ManageSieve: starttls, implicit or none.', { values: ['starttls', 'implicit', 'none'] }),
  k('DMS_POP3_PORT', 'int', '110', 'DMS POP3 port (Dovecot pop3; DMS ENABLE_POP3=1). Used only with LISTEN_POP3 or LISTEN_POP3S.', { min: 1, max: 65535 }),
  k('DMS_POP3_TLS', 'enum', 'starttls', 'TLS to DMS POP3: starttls (STLS on 110), implicit (995) or none.', { values: ['starttls', 'implicit', 'none'] }),
  k('DMS_TIMEOUT_MS', 'int', '10000', 'Time allowed to connect and log in to DMS; the authentication step may take up to 15 s longer (Dovecot\'s auth penalty for a client with recent failures).', { min: 100, max: 120000 }),

  // IMAP session limits
  k('IMAP_MAX_LINE_BYTES', 'int', '32768', 'Longest pre-auth command line (fits a 12 KiB SASL response, base64 encoded).', { min: 1024, max: 1048576 }),
  k('IMAP_MAX_LITERAL_BYTES', 'int', '16384', 'Largest pre-auth literal (LOGIN user/password); refused before the + continuation.', { min: 256, max: 1048576 }),
  k('IMAP_MAX_BAD_COMMANDS', 'int', '20', 'Invalid pre-auth commands before the proxy says BYE.', { min: 1, max: 1000 }),
  k('SMTP_MAX_LINE_BYTES', 'int', '32768', 'Longest SMTP command line before AUTH (fits AUTH XOAUTH2 with a long token).', { min: 1024, max: 1048576 }),
  k('PREAUTH_TIMEOUT_SECONDS', 'int', '60', 'Time a client has from connect to a completed login (SMTP: idle time between commands before AUTH).', { min: 1, max: 3600 }),
  k('IDLE_TIMEOUT_SECONDS', 'int', '1800', 'A spliced session with no traffic either way for this long is closed, within a sixteenth of it after the last byte (IMAP IDLE re-issues within 29 min).', { min: 10, max: 86400 }),

  // Client addresses (PROXY protocol) and abuse protection
  k('PROXY_PROTOCOL_TRUSTED_NETWORKS', 'string', '', 'CIDR list (comma or space separated) of load balancers whose connections must start with a PROXY protocol v1/v2 header; its client address is then used everywhere. Empty: PROXY protocol off.'),
  k('PROXY_PROTOCOL_TIMEOUT_SECONDS', 'int', '5', 'Time a trusted peer has to send the PROXY header (a missing or broken one: a warn `proxy-header-invalid`; a connection closed before its first byte, as a TCP health check does: debug `proxy-header-none`).', { min: 1, max: 60 }),
  k('DMS_IMAP_PROXY_PROTOCOL', 'bool', '0', 'Send a PROXY protocol v2 header (with the TLS flag) to DMS IMAP instead of ID x-originating-ip; DMS_IMAP_PORT must then be a Dovecot listener with haproxy = yes.'),
  k('DMS_SUBMISSION_PROXY_PROTOCOL', 'bool', '0', 'Send a PROXY protocol v2 header to DMS submission; DMS_SUBMISSION_PORT must then be a Postfix service with smtpd_upstream_proxy_protocol = haproxy.'),
  k('DMS_MANAGESIEVE_PROXY_PROTOCOL', 'bool', '0', 'Send a PROXY protocol v2 header (with the TLS flag) to DMS ManageSieve instead of XCLIENT ADDR; DMS_MANAGESIEVE_PORT must then be a Dovecot listener with haproxy = yes.'),
  k('DMS_POP3_PROXY_PROTOCOL', 'bool', '0', 'Send a PROXY protocol v2 header (with the TLS flag) to DMS POP3 instead of XCLIENT ADDR; DMS_POP3_PORT must then be a Dovecot listener with haproxy = yes.'),
  k('AUTH_FAIL_WINDOW_SECONDS', 'int', '300', 'Sliding window in which failed logins are counted, per client IP and per user.', { min: 1, max: 86400 }),
  k('AUTH_FAIL_MAX_PER_IP', 'int', '10', 'Failed logins from one IP within the window before the IP is blocked.', { min: 1, max: 100000 }),
  k('AUTH_FAIL_MAX_PER_USER', 'int', '20', 'Failed logins for one user name within the window before logins as that user are blocked.', { min: 1, max: 100000 }),
  k('AUTH_FAIL_BLOCK_SECONDS', 'int', '900', 'How long a blocked IP or user gets only temporary-failure replies.', { min: 1, max: 86400 }),
  k('AUTH_FAIL_DELAY_MS', 'int', '500', 'Delay before a failure reply, doubled with every further failure in the window (like Dovecot auth_failure_delay).', { min: 0, max: 60000 }),
  k('AUTH_FAIL_DELAY_MAX_MS', 'int', '10000', 'Upper bound of that growing delay.', { min: 0, max: 120000 }),
  k('MAX_CONNECTIONS', 'int', '20000', 'Open client connections in total (all listeners); more are refused with * BYE / 421.', { min: 1, max: 1000000 }),
  k('MAX_CONNECTIONS_PER_IP', 'int', '100', 'Open client connections from one IP: on the mail ports together, and on the portal (LISTEN_PORTAL) counted apart from them. More are refused at accept.', { min: 1, max: 1000000 }),
  k('MAX_PREAUTH_SESSIONS', 'int', '2000', 'Connections not yet logged in, in total.', { min: 1, max: 1000000 }),
  k('SHARED_STATE_URL', 'string', '', 'Redis 7 or Valkey shared by every replica (redis://host:6379/0, rediss:// for TLS): failure counters and blocks, deactivated and deleted users and the revocation of their sessions, positive token decisions (by the token\'s hash), app passwords (with APP_PASSWORDS_FILE) and portal sessions (with LISTEN_PORTAL) are then shared. Empty: kept in this process (one instance).'),
  k('SHARED_STATE_PASSWORD_FILE', 'file', '', 'File holding the password of SHARED_STATE_URL (Docker/Kubernetes secret); overrides a password in the URL.'),
  k('SHARED_STATE_TIMEOUT_MS', 'int', '250', 'Longest wait for one shared-state call; past it (or with the store down) the replica decides with its own counters and its last known deactivations.', { min: 10, max: 10000 }),
  k('IPV6_CLIENT_PREFIX', 'int', '64', 'Prefix length by which IPv6 clients are counted in every per-IP limit (AUTH_FAIL_*, MAX_CONNECTIONS_PER_IP): a host usually has a whole /64 and could rotate through it. 128: per address. IPv4 (also IPv4-mapped IPv6) is counted per address.', { min: 16, max: 128 }),

  // Operations
  k('LOG_LEVEL', 'enum', 'info', 'pino log level.', { values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }),
  k('LISTEN_HTTP', 'listen', '127.0.0.1:9090', 'HTTP listener for /metrics (Prometheus), /healthz and /readyz. Empty disables it (Kubernetes: 0.0.0.0:9090).'),
  k('SHUTDOWN_GRACE_SECONDS', 'int', '30', 'On SIGTERM/SIGINT: time logged-in sessions get to finish (IMAP gets * BYE when quiet, SMTP 421 between transactions); the rest are closed and the process exits within it.', { min: 0, max: 3600 }),
  k('TLS_RELOAD_INTERVAL_SECONDS', 'int', '60', 'How often the certificate and key files are checked for changes (renewals are picked up without a restart). 0: never.', { min: 0, max: 86400 }),

  // SCIM 2.0 user provisioning into DMS (issue 8)
  k('LISTEN_SCIM', 'listen', '', 'SCIM 2.0 listener (plain HTTP, base path /scim/v2) for user provisioning from the IdP into DMS_CONFIG_DIR. Empty disables it. Keep it on an internal network or behind a TLS reverse proxy.'),
  k('SCIM_TOKEN', 'secret', '', 'Bearer token SCIM clients must send (at least 16 characters). Required with LISTEN_SCIM.'),
  k('SCIM_TOKEN_FILE', 'file', '', 'File holding the SCIM token (Docker/Kubernetes secret); used when SCIM_TOKEN is empty.'),
  k('DMS_CONFIG_DIR', 'string', '/tmp/docker-mailserver', 'DMS config directory the SCIM service (and PROVISION_ON_LOGIN) writes postfix-accounts.cf and postfix-virtual.cf in (docker-data/dms/config, mounted at /tmp/docker-mailserver in DMS). Must exist and be writable with LISTEN_SCIM or PROVISION_ON_LOGIN=1.'),
  k('PROVISION_ON_LOGIN', 'bool', '0', 'Create the DMS account of a user on their first valid token login (IMAP, SMTP, POP3, ManageSieve): after the token and the policy (OAUTH2_ALLOWED_DOMAINS, OAUTH2_REQUIRED_GROUPS) accept it, an account line with an unusable password goes into postfix-accounts.cf in DMS_CONFIG_DIR, and the login completes once DMS has picked it up. Never for a password or app-password login. Needs DMS_CONFIG_DIR (ACCOUNT_PROVISIONER=FILE in DMS).'),
  k('PROVISION_WAIT_MS', 'int', '20000', 'With PROVISION_ON_LOGIN=1: longest wait after writing a new account for Dovecot to accept the master login (DMS\'s change detection checks every 2 s, then regenerates and reloads); past it the client gets a temporary failure (IMAP NO [UNAVAILABLE], SMTP 454) and retries later.', { min: 1000, max: 120000 }),
  k('SCIM_DEACTIVATED_REMOVE_AFTER_DAYS', 'int', '0', 'Days after a SCIM deactivation (active=false) the proxy removes the DMS account it created (mail is then refused; the mail data stays on disk). 0: never, the mailbox keeps receiving mail. Logins are refused from the deactivation on.', { min: 0, max: 36500 }),

  // Self-service app-password portal (issue 19)
  k('LISTEN_PORTAL', 'listen', '', 'HTTPS listener of the self-service app-password page (e.g. 0.0.0.0:8443), with the client-facing certificate (SSL_CERT_PATH). Users sign in with the IdP (OIDC code flow with PKCE) and make or revoke their app passwords. Needs PORTAL_URL, PORTAL_CLIENT_ID, APP_PASSWORDS_FILE and an issuer (OAUTH2_ISSUER or the first of the YAML issuers:). Empty (the default) disables it. See docs/portal.md.'),
  k('PORTAL_URL', 'url', '', 'Public base URL of the portal as browsers reach it (https://mail.example.com:8443); the redirect URI registered at the IdP is PORTAL_URL/callback. No path.'),
  k('PORTAL_CLIENT_ID', 'string', '', 'The portal\'s OIDC client at the IdP (authorization code flow, redirect URI PORTAL_URL/callback).'),
  k('PORTAL_CLIENT_SECRET', 'secret', '', 'Secret of PORTAL_CLIENT_ID (client_secret_basic). Empty: a public client, protected by PKCE alone.'),
  k('PORTAL_CLIENT_SECRET_FILE', 'file', '', 'File holding the portal client\'s secret (Docker/Kubernetes secret); used when PORTAL_CLIENT_SECRET is empty.'),
  k('PORTAL_SCOPES', 'string', 'openid email profile', 'Scopes the portal asks for: those that put the mailbox claim (OAUTH2_USERNAME_ATTRIBUTE) and the groups claim into the access token or userinfo (Keycloak: add roles; Authentik: profile holds groups).'),
  k('PORTAL_SESSION_SECONDS', 'int', '1800', 'Longest a portal sign-in lasts (also ended by sign-out, by SCIM deactivation, and after a quarter of it without a request).', { min: 60, max: 86400 }),
] as const satisfies readonly KeySpec[];

export const KEYS: readonly KeySpec[] = TABLE;

export type KeyName = (typeof TABLE)[number]['name'];

type ValueOf<S> = S extends TypedSpec<string, infer K, infer V>
  ? K extends 'int' ? number : K extends 'bool' ? boolean : K extends 'listen' ? ListenAddress | null : K extends 'enum' ? V : string
  : never;

/** Every key's parsed value as a typed field (`v.OAUTH2_TIMEOUT_MS: number`): no lookup by a string the compiler cannot check. */
export type KeyValues = { readonly [S in (typeof TABLE)[number] as S['name']]: ValueOf<S> };

/** The keys an issuers: item may set (perIssuer). */
export type IssuerKeyName = Extract<(typeof TABLE)[number], { readonly perIssuer?: true }>['name'];

