/**
 * The text `rexec --help` and `rexec MODE --help` print.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_KEEPALIVE,
  DEFAULT_PARALLEL,
} from "../client/defaults.ts";
import {
  EXIT_CANNOT_EXECUTE,
  EXIT_FLEET_COMMAND_FAILED,
  EXIT_FLEET_KILLED,
  EXIT_FLEET_REXEC_FAILED,
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
  [`${EXIT_FLEET_KILLED}`, "several hosts: a command was killed by a signal or timed out"],
  [`${EXIT_FLEET_REXEC_FAILED}`, "several hosts: else rexec failed on a host (unreachable, ...)"],
  [`${EXIT_FLEET_COMMAND_FAILED}`, "several hosts: else a command exited non-zero"],
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
  rexec shell [OPTIONS] HOST[:PORT]              a login shell on HOST
  rexec cp [OPTIONS] SRC... HOST:DST | HOST:SRC... DST   copy files
  rexec cert [--name NAME]... [--force]          make this host's TLS certificate
  rexec cert --ca-init | --ca-sign --name NAME   a fleet's CA, and certificates it signs
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
      --no-tty               refuse commands that ask for a terminal (run -t,
                             an interactive shell), with status ${EXIT_REFUSED}

File transfer (rexec cp):
      --copy-root DIR        confine transfers to DIR: relative paths start
                             there; .., absolute paths and links leading out
                             are refused (default: the user's home, no limit;
                             with --allow, transfers need --copy-root)
      --no-copy              refuse file transfers
  -h, --help                 show this help
`;

const CERT = `Usage: rexec cert [--name NAME]... [--force]
       rexec cert --ca-init [--force]
       rexec cert --ca-sign --name NAME... [--out DIR] [--force]

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

A fleet's own certificate authority, so that clients trust every server
with one --ca ca-cert.pem:
      --ca-init              make the CA: ca-cert.pem and ca-key.pem (mode
                             0600) in ~/.config/rexec; the key stays there
      --ca-sign              issue a server certificate for the --name NAMEs,
                             signed by the CA: NAME-cert.pem and NAME-key.pem
                             (mode 0600), for rexec serve --tls-cert/--tls-key
      --out DIR              where --ca-sign writes them (default: .)
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
       rexec run [OPTIONS] TARGETS [--hosts-file FILE] -- CMD [ARG...]

Runs CMD on HOST as given (no shell), or STRING with the remote /bin/sh -c.
The command's stdout and stderr arrive on local stdout and stderr, byte for
byte, as they are produced. Local stdin is forwarded, end of file included.
Options may come before or after HOST; the command starts at the first word
after HOST, or after --.

With -t, the command runs on a remote terminal (as ssh -t): vim, top, less,
sudo's password prompt work; all its output comes on stdout. On a local
terminal, every key goes to the remote one (Ctrl-C ends the remote command
there) and its size follows the local window; without one (a pipe), the
remote terminal is 80x24, and the end of stdin types Ctrl-D. The local
terminal is restored however the session ends. ~. at the start of a line
ends it at once (exit 255), ~~ types one ~. TERM is passed on.

Options:
  -c, --command STRING         run STRING with the remote shell
  -n, --no-stdin               do not read local stdin; the command reads EOF
  -t, --tty                    run the command on a remote terminal (-tt works
                               the same)
      --no-escape              with -t, ~. and ~~ are plain keys
${CLIENT_OPTIONS}

Many hosts: TARGETS is a comma-separated list of hosts and inventory names
(a host alias, a group, all). Each line of output comes as HOST: line.
  -i, --inventory FILE         Ansible inventory, INI or YAML (default:
                               ~/.config/rexec/inventory, when it exists)
      --hosts-file FILE        also these targets, one a line (# comments);
                               repeatable
      --parallel N             most hosts at once (default ${DEFAULT_PARALLEL})
      --no-prefix              each host's raw output, whole, as hosts finish
      --collapse               at the end, each distinct output once, under
                               the hosts that wrote it
      --json                   one JSON object per host per line (also for
                               one host)

Exit status: the remote command's, or
${EXIT_STATUSES}
`;

const SHELL = `Usage: rexec shell [OPTIONS] HOST[:PORT]

Starts the login shell of the server's account (its passwd entry's shell,
/bin/sh when none, with -l). When local stdin and stdout are terminals, it
runs on a remote terminal, interactive as over ssh: cd, variables, history,
job control, full-screen programs; ~. at the start of a line ends the
session (exit 255), ~~ types one ~. Otherwise it reads the script piped in,
as ssh HOST < script does: multi-line constructs, cd and variables carry
across lines. Exits with the shell's status (exit N).

Options:
      --no-escape              ~. and ~~ are plain keys
${CLIENT_OPTIONS}
`;

const CP = `Usage: rexec cp [OPTIONS] SRC... TARGETS:DST
       rexec cp [OPTIONS] TARGETS:SRC... DST

Copies files to or from the server, each checked end to end with SHA-256.
A file appears under its name only once all of it arrived and was verified;
an interrupted copy leaves the destination as it was. TARGETS is a host as
for run (HOST, HOST:PORT, [::1]:PORT, tls://HOST), a comma-separated list,
or an inventory alias or group; with a port, write HOST:PORT:PATH. A local
path that holds a colon is written ./NAME; after --, a path may start
with -. Remote relative paths start in
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
