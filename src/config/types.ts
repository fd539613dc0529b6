export interface ListenAddress { readonly host: string; readonly port: number }

export type BackendTlsMode = 'starttls' | 'implicit' | 'none';

export interface Config {
  readonly listen: {
    readonly imap: ListenAddress | null;
    readonly imaps: ListenAddress | null;
    readonly submission: ListenAddress | null;
    readonly submissions: ListenAddress | null;
  };
  readonly tls: { readonly certPath: string; readonly keyPath: string } | null;
  readonly allowPlaintextAuth: boolean;
  readonly oauth2: {
    readonly url: string;
    readonly mode: 'auth';
    readonly usernameAttribute: string;
    readonly timeoutMs: number;
    readonly maxResponseBytes: number;
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
  };
  readonly smtp: {
    readonly hostname: string;
    readonly maxLineBytes: number;
  };
  readonly imap: {
    readonly maxLineBytes: number;
    readonly maxLiteralBytes: number;
    readonly maxBadCommands: number;
    readonly preauthTimeoutMs: number;
    readonly idleTimeoutMs: number;
  };
  readonly logLevel: string;
}
