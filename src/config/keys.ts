// The configuration keys. Environment variable names are a public contract: DMS users set
// them in compose files (the OAUTH2_* names are DMS's own). A YAML file given with
// --config may set the same keys; the environment wins over the file.
//
// This table is the single source for parsing, defaults and the README reference table
// (test/config/readme.test.ts fails when a key is not documented there).

export type KeyKind = 'string' | 'url' | 'int' | 'bool' | 'listen' | 'enum' | 'file' | 'secret';

export interface KeySpec {
  readonly name: string;
  readonly kind: KeyKind;
  readonly default: string;
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

const k = (name: string, kind: KeyKind, def: string, doc: string, extra: Partial<KeySpec> = {}): KeySpec =>
  ({ name, kind, default: def, doc, ...extra });

export const KEYS: readonly KeySpec[] = [
  // Listeners (an empty value disables one)
  k('LISTEN_IMAP', 'listen', '0.0.0.0:143', 'IMAP listener, plaintext with STARTTLS. Empty disables it.'),
  k('LISTEN_IMAPS', 'listen', '0.0.0.0:993', 'IMAP listener with implicit TLS. Empty disables it.'),
  k('LISTEN_SUBMISSION', 'listen', '0.0.0.0:587', 'SMTP submission listener, plaintext with STARTTLS (required before AUTH). Empty disables it.'),
  k('LISTEN_SUBMISSIONS', 'listen', '0.0.0.0:465', 'SMTP submission listener with implicit TLS. Empty disables it.'),
  k('SMTP_HOSTNAME', 'string', '', 'Host name in the SMTP greeting and EHLO reply (default: the machine\'s host name).'),
  k('SSL_CERT_PATH', 'file', '', 'PEM certificate chain for the client-facing TLS (same name as in DMS).'),
  k('SSL_KEY_PATH', 'file', '', 'PEM private key for SSL_CERT_PATH.'),
  k('ALLOW_PLAINTEXT_AUTH', 'bool', '0', 'Allow authentication before TLS (1) or advertise LOGINDISABLED and refuse it (0).'),

  // Identity provider
  k('OAUTH2_INTROSPECTION_URL', 'url', '', 'Token validation URL. Mode auth: the OIDC userinfo endpoint (as in DMS).'),
  k('OAUTH2_INTROSPECTION_MODE', 'enum', 'auth', 'How tokens are validated: auth = GET with Authorization: Bearer (OIDC userinfo, as DMS does).', { values: ['auth'] }),
  k('OAUTH2_USERNAME_ATTRIBUTE', 'string', 'email', 'Claim path holding the mailbox address (wild-wild-path syntax; space-separated alternatives).'),
  k('OAUTH2_TIMEOUT_MS', 'int', '5000', 'Total time allowed for one IdP request; past it the login fails with UNAVAILABLE.', { min: 100, max: 60000 }),
  k('OAUTH2_MAX_RESPONSE_BYTES', 'int', '65536', 'Largest IdP response body read; a larger one is an IdP error.', { min: 1024, max: 10485760 }),

  // Backend (DMS)
  k('DMS_HOST', 'string', 'mailserver', 'Host name or address of the DMS container.'),
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
  k('DMS_TIMEOUT_MS', 'int', '10000', 'Time allowed to connect and log in to DMS.', { min: 100, max: 120000 }),

  // IMAP session limits
  k('IMAP_MAX_LINE_BYTES', 'int', '32768', 'Longest pre-auth command line (fits a 12 KiB SASL response, base64 encoded).', { min: 1024, max: 1048576 }),
  k('IMAP_MAX_LITERAL_BYTES', 'int', '16384', 'Largest pre-auth literal (LOGIN user/password); refused before the + continuation.', { min: 256, max: 1048576 }),
  k('IMAP_MAX_BAD_COMMANDS', 'int', '20', 'Invalid pre-auth commands before the proxy says BYE.', { min: 1, max: 1000 }),
  k('SMTP_MAX_LINE_BYTES', 'int', '32768', 'Longest SMTP command line before AUTH (fits AUTH XOAUTH2 with a long token).', { min: 1024, max: 1048576 }),
  k('PREAUTH_TIMEOUT_SECONDS', 'int', '60', 'Time a client has from connect to a completed login (SMTP: idle time between commands before AUTH).', { min: 1, max: 3600 }),
  k('IDLE_TIMEOUT_SECONDS', 'int', '1800', 'A spliced session with no traffic either way for this long is closed (IMAP IDLE re-issues within 29 min).', { min: 10, max: 86400 }),

  // Operations
  k('LOG_LEVEL', 'enum', 'info', 'pino log level.', { values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }),
];
