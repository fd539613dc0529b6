// How long a spliced session of a user disabled over SCIM may take to reach a point where it
// can be closed cleanly (IMAP: quiet between responses; SMTP: between transactions) before
// it is cut.
export const REVOKE_GRACE_MS = 5000;
