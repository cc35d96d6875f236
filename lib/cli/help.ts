/**
 * The text `rexec --help` and `rexec MODE --help` print.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE } from "../client/defaults.ts";
import {
  EXIT_CANNOT_EXECUTE,
  EXIT_INTERRUPTED,
  EXIT_NOT_FOUND,
  EXIT_REFUSED,
  EXIT_REXEC_FAILED,
  EXIT_SIGNAL_BASE,
  EXIT_STDOUT_CLOSED,
  EXIT_TIMED_OUT,
} from "../protocol/exit_status.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../protocol/frame.ts";
import { DEFAULT_PRE_AUTH_RATE } from "../server/audit_trail.ts";
import { DEFAULT_MAX_DELAY_FACTOR, DEFAULT_MAX_HELD } from "../server/auth_throttle.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_KILL_GRACE,
  DEFAULT_LIMITS,
  DEFAULT_MAX_TIMEOUT,
} from "../server/defaults.ts";
import { DEFAULT_PORT } from "../transport/address.ts";
import { DEFAULT_MISSES_ALLOWED } from "../transport/heartbeat.ts";
import { VERSION } from "../version.ts";
import type { Mode } from "./args.ts";

/**
 * The statuses `rexec run` exits with besides the remote command's own, and
 * what each means: the table `--help` shows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_STATUS_TABLE } from "./help.ts";
 *
 * assert.ok(EXIT_STATUS_TABLE.some(([status]) => status === "127"));
 * ```
 */
export const EXIT_STATUS_TABLE: readonly (readonly [status: string, meaning: string])[] = [
  [`${EXIT_SIGNAL_BASE}+N`, "it died of signal N"],
  [`${EXIT_TIMED_OUT}`, "--timeout (or the server's maximum run time) ended it"],
  [`${EXIT_REFUSED}`, "the server's policy or limits refused it"],
  [`${EXIT_CANNOT_EXECUTE}`, "it could not be executed (or --cwd is unusable)"],
  [`${EXIT_NOT_FOUND}`, "it was not found"],
  [`${EXIT_INTERRUPTED}`, "Ctrl-C (the remote command is terminated first)"],
  [`${EXIT_STDOUT_CLOSED}`, "local stdout or stderr was closed"],
  [
    `${EXIT_REXEC_FAILED}`,
    "rexec failed: connection, authentication, protocol, usage, server busy",
  ],
];

const EXIT_STATUSES = EXIT_STATUS_TABLE
  .map(([status, meaning]) => `  ${status.padEnd(7)}${meaning}`)
  .join("\n");

const OVERVIEW = `rexec ${VERSION}: run commands on another machine, from scripts and by hand

Usage:
  rexec serve [OPTIONS]                          run the server
  rexec run [OPTIONS] HOST[:PORT] [--] CMD [ARG...]
  rexec run [OPTIONS] HOST[:PORT] -c STRING      run one command remotely
  rexec shell [OPTIONS] HOST[:PORT]              run lines one after another
  rexec cp [OPTIONS] SRC... HOST:DST | HOST:SRC... DST   copy files
  rexec cert [--name NAME]... [--force]          make this host's TLS certificate
  rexec help MODE | rexec --version

The port defaults to ${DEFAULT_PORT}. Both ends share a token: REXEC_TOKEN, or
--token-file FILE, or ~/.config/rexec/token (created by rexec serve).
HOST as tls://HOST[:PORT] (or --tls) connects with TLS.

Exit status of run: the remote command's, or
${EXIT_STATUSES}
`;

const SERVE = `Usage: rexec serve [OPTIONS]

Listens for rexec clients and runs the commands they ask for, as the user
rexec runs as. Logs to stderr. SIGINT or SIGTERM: stop, end running
commands, exit 0. SIGHUP with --audit-log FILE: reopen FILE (log rotation).

Options:
  -l, --listen HOST:PORT     address to listen on (default ${DEFAULT_HOSTNAME}:${DEFAULT_PORT});
                             IPv6 as [::1]:${DEFAULT_PORT}; a port alone: ${DEFAULT_HOSTNAME}:PORT;
                             beyond loopback, TLS is needed
      --token-file FILE      token file (default: REXEC_TOKEN, else
                             ~/.config/rexec/token, created on first start)

Encryption:
      --tls                  serve TLS with this host's certificate
                             (~/.config/rexec/tls-cert.pem, made on first start)
      --tls-cert FILE        serve TLS with this certificate chain (PEM) ...
      --tls-key FILE         ... and this private key (PEM)
      --insecure-plaintext   plaintext beyond loopback (warns at each start)

Limits:
      --max-timeout SECONDS  longest a command may run (default ${DEFAULT_MAX_TIMEOUT}; 0: none)
      --kill-grace SECONDS   wait between SIGTERM and SIGKILL (default ${DEFAULT_KILL_GRACE})
      --max-frame-size BYTES largest frame from a client (default ${DEFAULT_MAX_FRAME_SIZE})
      --max-exec-size BYTES  largest request: argv or shell string, env, cwd
                             (default ${DEFAULT_LIMITS.maxExecSize})
      --handshake-timeout SECONDS  time to authenticate (default ${DEFAULT_LIMITS.handshakeTimeout}; 0: none)
      --idle-timeout SECONDS close sessions this long without a command
                             (default ${DEFAULT_LIMITS.idleTimeout}; 0: none)
      --keepalive SECONDS    ping interval; a client silent for ${DEFAULT_MISSES_ALLOWED}, or reading
                             nothing for ${DEFAULT_MISSES_ALLOWED}, is dropped and its command ended
                             (default ${DEFAULT_LIMITS.keepalive}; 0: off)
      --max-sessions N       authenticated sessions open at once
                             (default ${DEFAULT_LIMITS.maxSessions})
      --max-commands N       commands running at once (default ${DEFAULT_LIMITS.maxCommands})
      --max-startups N       connections authenticating at once; beyond it the
                             oldest is closed (default ${DEFAULT_LIMITS.maxStartups})
      --max-startups-per-source N  the same from one address
                             (default ${DEFAULT_LIMITS.maxStartupsPerSource})
      --auth-failure-delay SECONDS  hold the answer to a wrong token back this
                             long, doubling per recent failure of the address
                             up to ${DEFAULT_MAX_DELAY_FACTOR}x (default ${DEFAULT_LIMITS.authFailureDelay}; 0: off); the right
                             token is answered at once, unless its address has
                             ${DEFAULT_MAX_HELD} wrong answers held: then it waits for the next

Command policy:
      --allow PROGRAM        only these programs may run (repeatable); shell
                             mode (-c) needs --allow /bin/sh. Clients may then
                             set only TERM, LANG, LC_*, TZ, COLUMNS and LINES,
                             with plain values (no paths), unless --env-allow
                             lists others: any other variable could make an
                             allowed program run another one
      --env-allow NAME       only these variables (NAME, or PREFIX*) may be set
                             (repeatable; replaces the list above). With
                             neither option, any variable but PATH, LD_* and
                             the like: a client that may run any program gains
                             nothing from one, so that list guards against
                             mistakes, not attacks
      --user NAME            run commands as this user (server running as root)
      --audit-log FILE       one JSON line per connection, login, command start
                             and end; - for stderr. Its directory must exist.
                             Connections that never log in add at most about
                             ${DEFAULT_PRE_AUTH_RATE} records a second per address, and a summary
                             of the records left out
      --audit-fail MODE      while the audit log cannot be written: closed
                             refuses new commands until it can (the default),
                             open runs them unaudited

File transfer (rexec cp):
      --copy-root DIR        confine transfers to DIR: relative paths start
                             there; .., absolute paths and links leading out
                             are refused (default: the user's home, no limit;
                             with --allow, transfers need --copy-root)
      --no-copy              refuse file transfers
  -h, --help                 show this help
`;

const CERT = `Usage: rexec cert [--name NAME]... [--force]

Makes a private key and a self-signed TLS certificate for this host in
~/.config/rexec (tls-key.pem, mode 0600, and tls-cert.pem), or shows the
existing one. Prints the certificate's SHA-256 fingerprint and the client
command that trusts it. rexec serve --tls uses this pair.

Options:
      --name NAME            another host name or IP address clients use to
                             reach this host (repeatable); localhost, 127.0.0.1,
                             ::1 and this host's name are always included
      --force                replace the existing pair (clients must then trust
                             the new certificate)
  -h, --help                 show this help
`;

const CLIENT_OPTIONS = `      --token-file FILE        token file, used when REXEC_TOKEN is not set
                               (default ~/.config/rexec/token)
  -e, --env KEY=VALUE          set a variable for the command (repeatable)
      --tls                    connect with TLS (also: a tls://HOST address)
      --ca FILE                trust this certificate (the server's
                               tls-cert.pem), not the system roots;
                               implies --tls
      --keepalive SECONDS      ping interval; a server silent for ${DEFAULT_MISSES_ALLOWED} is given up
                               (default ${DEFAULT_KEEPALIVE}; 0: off)
      --cwd DIR                remote working directory (default: the home
                               directory; a relative DIR is taken from there)
      --timeout SECONDS        terminate the command after this long (exit ${EXIT_TIMED_OUT})
      --connect-timeout SECONDS  give up connecting after this long (default ${DEFAULT_CONNECT_TIMEOUT})
  -h, --help                   show this help`;

const RUN = `Usage: rexec run [OPTIONS] HOST[:PORT] [--] CMD [ARG...]
       rexec run [OPTIONS] HOST[:PORT] -c STRING

Runs CMD on HOST as given (no shell), or STRING with the remote /bin/sh -c.
The command's stdout and stderr arrive on local stdout and stderr, byte for
byte, as they are produced. Local stdin is forwarded, end of file included.
Options may come before or after HOST; the command starts at the first word
after HOST, or after --.

Options:
  -c, --command STRING         run STRING with the remote shell
  -n, --no-stdin               do not read local stdin; the command reads EOF
${CLIENT_OPTIONS}

Exit status: the remote command's, or
${EXIT_STATUSES}
`;

const SHELL = `Usage: rexec shell [OPTIONS] HOST[:PORT]

Reads lines and runs each with the remote /bin/sh -c on one connection,
showing its output and any non-zero exit status. Ends on exit, quit or end
of input; exits with the last command's status (or exit N). Reads a script
just as well from a pipe. Ctrl-C terminates the running command.

Options:
${CLIENT_OPTIONS}
`;

const CP = `Usage: rexec cp [OPTIONS] SRC... TARGETS:DST
       rexec cp [OPTIONS] TARGETS:SRC... DST

Copies files to or from the server, each checked end to end with SHA-256.
A file appears under its name only once all of it arrived and was verified;
an interrupted copy leaves the destination as it was. TARGETS is a host as
for run (HOST, HOST:PORT, [::1]:PORT, tls://HOST), a comma-separated list,
or an inventory alias or group; with a port, write HOST:PORT:PATH. A local
path that holds a colon is written ./NAME. Remote relative paths start in
the home directory (or the server's --copy-root). Several sources, or DST
ending in /, need an existing directory. Uploading to several hosts reads
each file once; downloading from several puts each host's files in DST/HOST/.

Options:
  -r, --recursive              copy directories: files, directories, links
                               (as links); other file types are skipped
  -p, --preserve               keep modes and modification times (the default)
      --no-preserve            do not keep them
      --json                   one JSON line per file copied on stdout:
                               {host, path, bytes, sha256, duration_ms}
  -q, --quiet                  no progress line (shown only on a terminal)
  -i, --inventory FILE         the inventory whose aliases and groups
                               TARGETS may name
      --token-file FILE        token file, used when REXEC_TOKEN is not set
      --tls                    connect with TLS (also: a tls://HOST address)
      --ca FILE                trust this certificate; implies --tls
      --keepalive SECONDS      ping interval (default ${DEFAULT_KEEPALIVE}; 0: off)
      --connect-timeout SECONDS  give up connecting after this long (default ${DEFAULT_CONNECT_TIMEOUT})
  -h, --help                   show this help

Exit status:
  0      every file was copied
  1      some file could not be read, written or verified (each is named)
  ${EXIT_REFUSED}    a server refuses file transfers (its policy)
  ${EXIT_INTERRUPTED}    Ctrl-C (nothing half copied is left)
  ${EXIT_REXEC_FAILED}    rexec failed: connection, authentication, usage
`;

/**
 * The help text for `topic`, or the overview.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { helpText } from "./help.ts";
 *
 * assert.match(helpText("run"), /^Usage: rexec run /);
 * assert.match(helpText(), /^rexec \d+\.\d+\.\d+: /); // the overview, with the version
 * ```
 */
export function helpText(topic?: Mode): string {
  switch (topic) {
    case "serve":
      return SERVE;
    case "run":
      return RUN;
    case "shell":
      return SHELL;
    case "cert":
      return CERT;
    case "cp":
      return CP;
    default:
      return OVERVIEW;
  }
}
