/**
 * The text `rexec --help` and `rexec MODE --help` print.
 *
 * @module
 */

import { DEFAULT_PORT } from "../address.ts";
import { VERSION } from "../version.ts";

const OVERVIEW = `rexec ${VERSION}: run commands on another machine, from scripts and by hand

Usage:
  rexec serve [OPTIONS]                          run the server
  rexec run [OPTIONS] HOST[:PORT] [--] CMD [ARG...]
  rexec run [OPTIONS] HOST[:PORT] -c STRING      run one command remotely
  rexec shell [OPTIONS] HOST[:PORT]              run lines one after another
  rexec help MODE | rexec --version

The port defaults to ${DEFAULT_PORT}. Both ends share a token: REXEC_TOKEN, or
--token-file FILE, or ~/.config/rexec/token (created by rexec serve).

Exit status of run: the remote command's; 128+N when it died of signal N;
124 when --timeout ended it; 126/127 when it could not be started; 130 after
Ctrl-C; 141 when local stdout was closed; 255 when rexec itself failed.
`;

const SERVE = `Usage: rexec serve [OPTIONS]

Listens for rexec clients and runs the commands they ask for, as the user
rexec runs as. Logs to stderr. SIGINT or SIGTERM: stop, end running
commands, exit 0.

Options:
  -l, --listen HOST:PORT     address to listen on (default 127.0.0.1:${DEFAULT_PORT});
                             IPv6 as [::1]:${DEFAULT_PORT}
      --token-file FILE      token file (default: REXEC_TOKEN, else
                             ~/.config/rexec/token, created on first start)
      --max-timeout SECONDS  longest any command may run (default 86400; 0: no limit)
      --kill-grace SECONDS   wait between SIGTERM and SIGKILL (default 2)
      --max-frame-size BYTES largest frame accepted from a client (default 1048576)
  -h, --help                 show this help
`;

const CLIENT_OPTIONS = `      --token-file FILE        token file, used when REXEC_TOKEN is not set
                               (default ~/.config/rexec/token)
  -e, --env KEY=VALUE          set a variable for the command (repeatable)
      --cwd DIR                remote working directory
      --timeout SECONDS        terminate the command after this long (exit 124)
      --connect-timeout SECONDS  give up connecting after this long (default 15)
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

Exit status: the remote command's; 128+N when it died of signal N; 124 on
--timeout; 126 cannot execute; 127 not found; 130 Ctrl-C (the remote command
is terminated first); 141 local stdout closed; 255 rexec failed (connection,
authentication, protocol, usage).
`;

const SHELL = `Usage: rexec shell [OPTIONS] HOST[:PORT]

Reads lines and runs each with the remote /bin/sh -c on one connection,
showing its output and any non-zero exit status. Ends on exit, quit or end
of input; exits with the last command's status (or exit N). Reads a script
just as well from a pipe. Ctrl-C terminates the running command.

Options:
${CLIENT_OPTIONS}
`;

/**
 * The help text for `topic`, or the overview.
 *
 * @example
 * ```ts
 * import { helpText } from "./help.ts";
 *
 * console.assert(helpText("run").startsWith("Usage: rexec run"));
 * ```
 */
export function helpText(topic?: "serve" | "run" | "shell"): string {
  switch (topic) {
    case "serve":
      return SERVE;
    case "run":
      return RUN;
    case "shell":
      return SHELL;
    default:
      return OVERVIEW;
  }
}
