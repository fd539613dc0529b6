// Every fixed limit and timer of the proxy that is not a configuration key (those are in
// src/config/keys.ts, with the docs/configuration.md table generated from them). One place to read what
// the proxy bounds and for how long, each with why it is this value. Imports nothing from
// src/, so any room may use it. Protocol syntax (byte values, RFC-fixed header sizes that
// are facts of the wire format) stays with its parser.

// ---- Closing connections ---------------------------------------------------------------

/** After a polite close (BYE, 421, -ERR; a drain's last word) the client has this long to close its side before the socket is destroyed. */
export const POLITE_CLOSE_MS = 2000;
/** A connection refused at the door (blocked IP, connection limits, an HTTP tunnel request) is destroyed this long after its refusal line. */
export const REFUSAL_CLOSE_MS = 1000;
/** After LOGOUT/QUIT on a backend connection used only to check something: Dovecot/Postfix answer at once. */
export const BACKEND_QUIT_CLOSE_MS = 1000;

// ---- Draining and revocation (shutdown, SCIM deactivation) -----------------------------

/** A spliced IMAP session with no traffic either way this long is between responses (Dovecot writes one in one go). */
export const DRAIN_QUIET_MS = 1000;
/** How often byte counters are sampled while draining: well below DRAIN_QUIET_MS. */
export const DRAIN_SAMPLE_MS = 100;
/** A revoked user's session gets this long to reach a clean point (BYE between responses, 421 between transactions) before it is cut. */
export const REVOKE_GRACE_MS = 5000;
/** Time kept at the end of the shutdown grace for closing what is left and exiting (at most a quarter of the grace). */
export const CLOSE_RESERVE_MS = 250;
/** How often a shutdown looks whether every session has gone. */
export const SHUTDOWN_POLL_MS = 100;
/** Longest wait for one closing part (a listener, the IdP client) once the grace is over: a peer that never closes must not hold a shutdown. */
export const CLOSE_STEP_MAX_MS = 3000;
/** A one-shot CLI command exits this long after its answer, so idle keep-alive sockets do not delay it. */
export const CLI_EXIT_DELAY_MS = 200;

// ---- PROXY protocol --------------------------------------------------------------------

/** Our cap on an inbound v2 header with its TLVs (the addresses alone are at most 216 bytes). */
export const MAX_PROXY_HEADER_BYTES = 1024;

// ---- Logins ----------------------------------------------------------------------------

/** Failed logins on one connection before it is closed. RFC 9051 and RFC 4954 set none; Dovecot closes after a few too. */
export const MAX_AUTH_FAILURES = 3;

// ---- SASL and IMAP pre-auth parsing ----------------------------------------------------

/** RFC 4954 §4 deems 12288 octets enough for any SASL response; Postfix's smtpd_sasl_response_limit agrees. */
export const MAX_SASL_RESPONSE_BYTES = 12288;
/** RFC 4616 §2: authzid/authcid/passwd are "up to 255 octets"; our cap for names and passwords. */
export const MAX_SASL_FIELD_BYTES = 255;
/** Deepest IMAP list nesting accepted before login; bounds recursion on hostile input. */
export const MAX_IMAP_LIST_DEPTH = 8;
/** RFC 9051 §9: literal = "{" number64 ["+"] "}"; more digits is not a length we take. */
export const MAX_IMAP_LITERAL_DIGITS = 10;
/** Longest ManageSieve NOOP tag echoed back (RFC 5804 §2.14 sets none; a tag is a client's short marker). */
export const MAX_SIEVE_NOOP_TAG_BYTES = 256;
/** RFC 2971 §3.3: at most 30 ID field-value pairs. */
export const MAX_ID_PAIRS = 30;
/** RFC 2971 §3.3: ID field names at most 30 octets. */
export const MAX_ID_FIELD_BYTES = 30;
/** RFC 2971 §3.3: ID values at most 1024 octets. */
export const MAX_ID_VALUE_BYTES = 1024;

// ---- Spliced sessions ------------------------------------------------------------------

/** The idle check of spliced sessions runs this many times per IDLE_TIMEOUT_SECONDS: a quiet session is closed between 1 and 1 1/16 timeouts after its last byte (30 min: by 31 min 53 s), never sooner. */
export const IDLE_CHECKS_PER_TIMEOUT = 16;

// ---- Spliced SMTP sessions -------------------------------------------------------------

/** Postfix's line_length_limit (its default, as DMS keeps it): Postfix reads a line in records of at most this many bytes, its LF included. */
export const POSTFIX_LINE_LENGTH_LIMIT = 2048;
/** Longest command line passed on after login, without its line end: below Postfix's line_length_limit (2048), so Postfix never cuts a line the guard read whole (RFC 5321 §4.5.3.1.4: 512). */
export const MAX_SPLICED_SMTP_COMMAND_BYTES = 2000;
/** A reply line from Postfix is passed on as it is once this long without a line end. */
export const MAX_SPLICED_SMTP_REPLY_LINE_BYTES = 4096;
/** The transaction tracker gives up on a longer line (the session then counts as busy until a drain's deadline). */
export const MAX_TRACKED_SMTP_LINE_BYTES = 65536;

// ---- Backend (DMS) ---------------------------------------------------------------------

/** Longest line read from Dovecot/Postfix during the login dialogue. */
export const MAX_BACKEND_LINE_BYTES = 65536;
/** Most lines of one multi-line reply from Postfix (an EHLO reply has about a dozen) or of Dovecot ManageSieve's capability list (about ten). */
export const MAX_BACKEND_REPLY_LINES = 100;
/** A resolved DMS_HOST is reused this long: no DNS query on every login. */
export const BACKEND_LOOKUP_TTL_MS = 10_000;
/** While the resolver fails, an answer up to this old is still used. */
export const BACKEND_LOOKUP_STALE_MS = 5 * 60_000;
/** Backend host names remembered (they are one or two); beyond, oldest first out. */
export const MAX_BACKEND_LOOKUP_NAMES = 16;
/** Dovecot 2.3 holds an authentication from an IP with recent failures up to 15 s (auth-penalty.h AUTH_PENALTY_MAX_SECS); the auth step gets it on top of DMS_TIMEOUT_MS. */
export const DOVECOT_PENALTY_MAX_MS = 15_000;
/** An account found by the account check is trusted this long (accounts are rarely removed). */
export const ACCOUNT_EXISTS_TTL_MS = 300_000;
/** An account found missing is rechecked after this long (it may be created by SCIM any time). */
export const ACCOUNT_MISSING_TTL_MS = 30_000;
/** Account check answers kept; oldest first out. */
export const MAX_ACCOUNT_CHECK_ENTRIES = 10_000;
/**
 * PROVISION_ON_LOGIN: after writing a new account, the first master login that asks Dovecot
 * whether it knows it waits this long: DMS checks for changes every 2 s (check-for-changes.sh),
 * then regenerates its files and reloads Dovecot; every refused probe raises Dovecot's auth
 * penalty for the client's address (2, 4, 8, up to 15 s before the next check) and counts
 * towards DMS's Fail2Ban, so an early probe that fails costs more than it saves.
 */
export const PROVISION_FIRST_PROBE_MS = 3000;
/** Then between two such probes (each refused one is slowed by the penalty on top). */
export const PROVISION_PROBE_INTERVAL_MS = 1000;
/** Accounts written on first login that DMS has not taken up yet, remembered so their next login waits again; oldest first out. */
export const MAX_PROVISION_PENDING = 10_000;

// ---- Identity provider -----------------------------------------------------------------

/** Connections the IdP client keeps to one origin: a login storm queues instead of opening thousands. */
export const IDP_MAX_CONNECTIONS = 64;
/** An idle IdP connection is kept this long for the next login (saves a TLS handshake). */
export const IDP_KEEPALIVE_MS = 30_000;
/** A JWKS is refetched at least this often (jose's createRemoteJWKSet default cacheMaxAge). */
export const JWKS_MAX_AGE_MS = 10 * 60_000;

// ---- Failed logins ---------------------------------------------------------------------

/** IPs and users tracked by the failure limiter; beyond, oldest first out (bounds memory under a spray). */
export const MAX_AUTH_FAIL_KEYS = 100_000;

// ---- Health and the ops HTTP listener --------------------------------------------------

/** Readiness results are reused this long, so probes never become a stream of connections to DMS or the IdP. */
export const HEALTH_CHECK_CACHE_MS = 10_000;
/** One readiness check answers within this, whatever it waits on. */
export const HEALTH_CHECK_TIMEOUT_MS = 3_000;
/** The `healthcheck` command's request to /healthz: below the image's HEALTHCHECK --timeout (5 s), so it reports why. */
export const HEALTHCHECK_TIMEOUT_MS = 4_000;
/** The backend TCP probe: below HEALTH_CHECK_TIMEOUT_MS, so its own error is reported. */
export const BACKEND_PROBE_TIMEOUT_MS = 2000;
/** The IdP probe (also bounded by OAUTH2_TIMEOUT_MS): below HEALTH_CHECK_TIMEOUT_MS, so a silent IdP is reported as such and cached state consulted. */
export const IDP_PROBE_TIMEOUT_MS = 2000;
/** The metrics/health listener: a whole request, its headers, and an idle keep-alive connection. */
export const OPS_HTTP_REQUEST_TIMEOUT_MS = 10_000;
export const OPS_HTTP_HEADERS_TIMEOUT_MS = 5_000;
export const OPS_HTTP_KEEPALIVE_MS = 5_000;
/**
 * Open connections on one HTTP listener (ops, SCIM); more are closed at accept. Without a
 * cap anyone who reaches the port holds a descriptor per idle connection until the headers
 * timeout, and enough of them leave the mail listeners none (EMFILE). Scrapers, probes and an
 * IdP's provisioning use a handful.
 */
export const MAX_HTTP_CONNECTIONS = 128;

// ---- SCIM ------------------------------------------------------------------------------

/** Largest SCIM request body (a user with many emails fits in a few KiB). */
export const MAX_SCIM_BODY_BYTES = 64 * 1024;
/** The SCIM listener: headers, a whole request, and an idle keep-alive connection. */
export const SCIM_HEADERS_TIMEOUT_MS = 10_000;
export const SCIM_REQUEST_TIMEOUT_MS = 30_000;
export const SCIM_KEEPALIVE_MS = 5_000;
/** Deactivated-account removal is counted in days; an hourly look is plenty. */
export const SCIM_SWEEP_INTERVAL_MS = 3_600_000;

// ---- doctor ----------------------------------------------------------------------------

/** One HTTP request of `doctor` (IdP, discovery). */
export const DOCTOR_HTTP_TIMEOUT_MS = 5000;
/** A `doctor` TCP connect to DMS: at most this, even with a longer DMS_TIMEOUT_MS. */
export const DOCTOR_CONNECT_MAX_MS = 5000;
/** After QUIT/LOGOUT of a `doctor` check connection. */
export const DOCTOR_QUIT_CLOSE_MS = 500;
/** Longest SCIM string attribute (names, userName): far beyond any real name, bounds state-file growth. */
export const MAX_SCIM_STRING_CHARS = 1024;
/** Most emails of one SCIM user (each becomes an alias line in postfix-virtual.cf). */
export const MAX_SCIM_EMAILS = 100;
/** Most operations in one SCIM PATCH request (RFC 7644 §3.5.2 leaves it to the server). */
export const MAX_SCIM_PATCH_OPERATIONS = 100;
/** Longest SCIM filter expression (we accept only `attr eq value`). */
export const MAX_SCIM_FILTER_CHARS = 1024;
/** Most users in one SCIM list page (advertised as filter.maxResults, RFC 7643 §5). */
export const MAX_SCIM_RESULTS = 200;

// ---- Mail addresses --------------------------------------------------------------------

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets included; the address inside at most 254. */
export const MAX_ADDRESS_CHARS = 254;

// ---- App passwords ---------------------------------------------------------------------

/** App passwords one user may have: bounds the file and the checks a password login makes (all of them, for equal timing). */
export const MAX_APP_PASSWORDS_PER_USER = 10;

/** An app password's label ("Phone", "Laptop Thunderbird"), in characters. */
export const MAX_APP_PASSWORD_LABEL_CHARS = 64;

/** How often app passwords' last-used data is written (it is batched: no write per login). */
export const LAST_USED_FLUSH_MS = 60_000;

/** A state-file lock older than this is taken to be left by a process that died. */
export const LOCK_STALE_MS = 10_000;

/** How long a change waits for another process's lock on a state file before it fails. */
export const LOCK_WAIT_MS = 5000;

/** How often a waiting change looks at the lock again. */
export const LOCK_POLL_MS = 20;

// Shared state (issue 20: src/state/)
/** Blocks of other replicas mirrored here, and read back from the store on rejoin: as many as the local limiter keeps keys. */
export const MAX_SHARED_BLOCKS = MAX_AUTH_FAIL_KEYS;
/** Reconnection to the store backs off to this at most: a replica rejoins within about a second of its return. */
export const SHARED_STATE_RECONNECT_MAX_MS = 1000;
/** A pub/sub message between replicas is a user name and a reason: anything longer is not ours. */
export const MAX_SHARED_EVENT_CHARS = 4096;
/** App-password ids a replica remembers the owner of, from the logins that listed them (last-used data is written per user): beyond, oldest first out. */
export const MAX_APP_PASSWORD_OWNERS = 10_000;
/** A SCIM deletion is kept in the shared store this long, for replicas cut off from it when it was announced: they end the user's sessions when they rejoin. */
export const REMOVALS_KEPT_MS = 24 * 3_600_000;
/** Deletions read back on rejoin, at most (bounds the reply; more in REMOVALS_KEPT_MS is a mass deletion). */
export const MAX_SHARED_REMOVALS = 10_000;
/** Deletions announced up to this long before a replica noticed the store was gone are read back too (clocks of replicas differ a little; the loss is noticed late). */
export const REJOIN_REPLAY_MARGIN_MS = 30_000;

/** How often the proxy looks at the app-password state file for revocations by the CLI (another process): sessions end within about this. */
export const APP_PASSWORD_WATCH_MS = 250;
/** A revocation announced between replicas is a user name and ids: anything longer is not ours. */
export const MAX_REVOKED_EVENT_CHARS = 16_384;

// ---- Self-service portal (issue 19) ------------------------------------------------------

/** Largest form body (a label and a CSRF token fit in a few hundred bytes). */
export const PORTAL_MAX_BODY_BYTES = 4096;
/** Request line and headers together (node:http answers 431 past it): cookies of ours are under 200 bytes. */
export const PORTAL_MAX_HEADER_BYTES = 8192;
/** The portal listener: headers, a whole request, an idle keep-alive connection. */
export const PORTAL_HEADERS_TIMEOUT_MS = 10_000;
export const PORTAL_REQUEST_TIMEOUT_MS = 20_000;
export const PORTAL_KEEPALIVE_MS = 5_000;
/**
 * Requests waiting on one portal connection (pipelined behind the one being served, which
 * they wait for): past it the connection is closed rather than its requests held without
 * end (node:http's own guard waits for unsent answers, and these have none yet). Browsers do
 * not pipeline; node:http parses a whole TLS record's requests (up to ~300 small ones) before
 * it could stop reading anyway, so this is about what pausing the socket would bound.
 */
export const PORTAL_MAX_PIPELINED = 256;
/** Open connections to the portal listener: a page for people, not a mail port (and per client MAX_CONNECTIONS_PER_IP: portal/server.ts). */
export const PORTAL_MAX_CONNECTIONS = 1000;
/** Signed-in sessions kept; past it the oldest is ended (each is a few hundred bytes). */
export const PORTAL_MAX_SESSIONS = 10_000;
/**
 * Signed-in sessions of one user (browsers, devices); a new one past it ends that user's
 * oldest. Without it one user signing in over and over (a script with their own IdP
 * credentials) would push every other user's session out past PORTAL_MAX_SESSIONS.
 */
export const PORTAL_MAX_SESSIONS_PER_USER = 10;
/** After a failed OIDC discovery the portal answers 503 this long before it asks the IdP again: page loads do not each become a request to an IdP that is down. */
export const PORTAL_DISCOVERY_RETRY_MS = 5_000;
/**
 * A refused connection is one SYN for the client and one warn line for the proxy: the
 * `connection-refused` line is written once per client (or per reason, for the global caps)
 * and then at most once per this window, with the count left out. The metric counts all.
 */
export const REFUSAL_LOG_WINDOW_MS = 60_000;
/** Clients remembered for that, the least recent forgotten first (about 100 bytes each). */
export const REFUSAL_LOG_MAX_CLIENTS = 4_096;
/** Time a user has at the IdP between "sign in" and the callback. */
export const PORTAL_LOGIN_TTL_MS = 600_000;
/** Expired portal sessions and sign-ins are swept at most this often (a sweep walks them all). */
export const PORTAL_SWEEP_INTERVAL_MS = 1000;
