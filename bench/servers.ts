/**
 * The servers the suite measures against, each a separate process on a free
 * loopback port, stopped and cleaned up when its scope ends: `rexec serve`
 * (plaintext or TLS), the raw TCP copy and spawn yardsticks, and a private
 * sshd.
 *
 * @module
 */

import {
  childEnv,
  commandLine,
  freePort,
  lastLine,
  MAIN,
  run,
  runOk,
  Service,
  TempDir,
  which,
} from "./process.ts";

/** What every measurement needs to know about this run. */
export interface BenchContext {
  /** Fewer and smaller runs. */
  readonly quick: boolean;
  /** Aborted when the run is interrupted or a section runs out of time. */
  readonly signal: AbortSignal;
  /** The flags of `deno task rexec`. */
  readonly permissions: readonly string[];
  /** The token the servers and clients of this run share. */
  readonly token: string;
  /** Says what is going on, on stderr. */
  readonly progress: (message: string) => void;
}

/** Thrown when a yardstick cannot be measured on this machine; its rows say why. */
export class Skipped extends Error {
  /** Says why, such as "no sshd". */
  constructor(reason: string) {
    super(reason);
    this.name = "Skipped";
  }
}

/** Seconds a server has to say it is listening. */
const START_TIMEOUT_MS = 30_000;

/**
 * `rexec serve --listen 127.0.0.1:0` as a separate process, with its own
 * configuration directory (XDG_CONFIG_HOME) so that `--tls` makes its
 * certificate there.
 */
export class RexecServer implements AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** The port it listens on. */
  readonly port: number;
  /** The serve process's id, for its memory use. */
  readonly pid: number;
  /** The certificate clients trust, when it serves TLS. */
  readonly caFile: string | undefined;
  readonly #service: Service;
  readonly #resources: AsyncDisposableStack;

  private constructor(
    address: string,
    caFile: string | undefined,
    service: Service,
    resources: AsyncDisposableStack,
  ) {
    this.address = address;
    this.port = Number(address.slice(address.lastIndexOf(":") + 1));
    this.pid = service.pid;
    this.caFile = caFile;
    this.#service = service;
    this.#resources = resources;
  }

  /**
   * Starts a server and waits for its `listening address=HOST:PORT` line.
   *
   * @throws {Error} with the end of its log when it does not come up.
   */
  static async start(context: BenchContext, options: { tls?: boolean } = {}): Promise<RexecServer> {
    await using resources = new AsyncDisposableStack();
    const config = resources.use(await TempDir.create("rexec-bench-"));
    const service = resources.use(
      new Service(
        options.tls ? "rexec serve --tls" : "rexec serve",
        Deno.execPath(),
        [
          "run",
          ...context.permissions,
          MAIN,
          "serve",
          "--listen",
          "127.0.0.1:0",
          ...(options.tls ? ["--tls"] : []),
        ],
        childEnv({ REXEC_TOKEN: context.token, XDG_CONFIG_HOME: config.path }),
      ),
    );
    const [, address] = await service.waitForLine(/ listening address=(\S+)/, START_TIMEOUT_MS);
    const caFile = options.tls ? `${config.path}/rexec/tls-cert.pem` : undefined;
    return new RexecServer(address, caFile, service, resources.move());
  }

  /** How the CLI names this server: `ADDR`, or `--ca FILE tls://ADDR`. */
  get target(): string[] {
    return this.caFile ? ["--ca", this.caFile, `tls://${this.address}`] : [this.address];
  }

  /** The last lines of its log. */
  tail(): string {
    return this.#service.tail();
  }

  /** Stops the server and removes its configuration directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#resources.disposeAsync();
  }
}

/**
 * Arguments for `deno` that run `rexec run -n SERVER -- COMMAND...`, as
 * `deno task rexec` would.
 */
export function rexecRunArgs(
  context: BenchContext,
  server: RexecServer,
  command: readonly string[],
): string[] {
  return ["run", ...context.permissions, MAIN, "run", "-n", ...server.target, "--", ...command];
}

/** The environment of a `rexec run` client: the token, nothing of ours. */
export function rexecClientEnv(context: BenchContext): Record<string, string> {
  return childEnv({ REXEC_TOKEN: context.token });
}

const RAW_COPY = new URL("./raw_copy.ts", import.meta.url).pathname;

/** The raw TCP copy yardstick (`bench/raw_copy.ts serve`). */
export class RawCopyServer implements AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  readonly #service: Service;

  private constructor(port: number, service: Service) {
    this.port = port;
    this.#service = service;
  }

  /** Starts it. */
  static async start(): Promise<RawCopyServer> {
    await using resources = new AsyncDisposableStack();
    const service = resources.use(
      new Service(
        "raw_copy.ts serve",
        Deno.execPath(),
        ["run", "--allow-net=127.0.0.1", "--allow-run=setsid", RAW_COPY, "serve"],
        childEnv(),
      ),
    );
    const [, port] = await service.waitForLine(/^listening port=(\d+)/, START_TIMEOUT_MS);
    resources.move();
    return new RawCopyServer(Number(port), service);
  }

  /** Arguments for `deno` that read `bytes` bytes from it to stdout. */
  readerArgs(bytes: number): string[] {
    return ["run", "--allow-net=127.0.0.1", RAW_COPY, "read", String(this.port), String(bytes)];
  }

  /** Stops it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#service.stop();
  }
}

const SPAWN_SERVER = new URL("./spawn_server.ts", import.meta.url).pathname;

/**
 * The per-command latency yardstick (`bench/spawn_server.ts`): a minimal
 * Deno server that spawns `true` per request line.
 */
export class SpawnServer implements AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  readonly #service: Service;

  private constructor(port: number, service: Service) {
    this.port = port;
    this.#service = service;
  }

  /** Starts it. */
  static async start(): Promise<SpawnServer> {
    await using resources = new AsyncDisposableStack();
    const service = resources.use(
      new Service(
        "spawn_server.ts",
        Deno.execPath(),
        ["run", "--allow-net=127.0.0.1", "--allow-run=true", SPAWN_SERVER],
        childEnv(),
      ),
    );
    const [, port] = await service.waitForLine(/^listening port=(\d+)/, START_TIMEOUT_MS);
    resources.move();
    return new SpawnServer(Number(port), service);
  }

  /** Stops it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#service.stop();
  }
}

/** The SSH cipher the yardstick uses: fast with AES-NI, as most OpenSSH setups negotiate. */
export const SSH_CIPHER = "aes128-gcm@openssh.com";

const SSHD = "/usr/sbin/sshd";

/**
 * A private sshd on 127.0.0.1: its own host key, config and port, and one
 * user key of its own authorised for the current user. Nothing of the
 * machine's own ssh setup is read or changed, except that a root sshd needs
 * /run/sshd, made here if missing and removed again.
 */
export class Sshd implements AsyncDisposable {
  readonly #login: SshLogin;
  readonly #resources: AsyncDisposableStack;

  private constructor(login: SshLogin, resources: AsyncDisposableStack) {
    this.#login = login;
    this.#resources = resources;
  }

  /**
   * Starts it.
   *
   * @throws {Skipped} when openssh-server or the ssh client is not installed.
   */
  static async start(context: BenchContext): Promise<Sshd> {
    const ssh = await which("ssh");
    const keygen = await which("ssh-keygen");
    const sshd = await Deno.stat(SSHD).then((info) => info.isFile, () => false);
    if (!ssh || !keygen || !sshd) throw new Skipped("no sshd");
    await using resources = new AsyncDisposableStack();
    const dir = resources.use(await TempDir.create("rexec-bench-sshd-"));
    const keygenArgs = (
      file: string,
    ) => ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", file];
    const options = { env: childEnv(), timeoutMs: 10_000, signal: context.signal };
    await runOk(keygen, { ...options, args: keygenArgs(`${dir.path}/host_ed25519`) });
    await runOk(keygen, { ...options, args: keygenArgs(`${dir.path}/id_ed25519`) });
    await Deno.copyFile(`${dir.path}/id_ed25519.pub`, `${dir.path}/authorized_keys`);
    const user = new TextDecoder().decode(
      (await runOk("id", { ...options, args: ["-un"], stdout: "piped" })).stdout,
    ).trim();
    if (Deno.uid() === 0) await ensurePrivsepDir(resources);
    const config = `${dir.path}/sshd_config`;
    await Deno.writeTextFile(
      config,
      [
        `ListenAddress 127.0.0.1:${freePort()}`,
        `HostKey ${dir.path}/host_ed25519`,
        `PidFile ${dir.path}/sshd.pid`,
        `AuthorizedKeysFile ${dir.path}/authorized_keys`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        // The keys live in a temporary directory, not in the user's home.
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        // Room for the parallel one-shot runs without random refusals.
        "MaxStartups 500",
        `Ciphers ${SSH_CIPHER}`,
        // scp speaks SFTP to the server since OpenSSH 9.0.
        "Subsystem sftp internal-sftp",
        "LogLevel INFO",
        "",
      ].join("\n"),
    );
    const service = resources.use(
      new Service("sshd", SSHD, ["-D", "-e", "-f", config], childEnv()),
    );
    const [, port] = await service.waitForLine(
      /Server listening on 127\.0\.0\.1 port (\d+)/,
      START_TIMEOUT_MS,
    );
    const server = { port: Number(port), user, keyFile: `${dir.path}/id_ed25519` };
    // Fail here, with sshd's own words, rather than in every measurement.
    const probe = await run(ssh, { ...options, args: sshArgs(server, ["true"]) });
    if (probe.code !== 0) {
      throw new Error(
        `${commandLine(ssh, sshArgs(server, ["true"]))} exited ${probe.code}: ${
          lastLine(probe.stderr || service.tail())
        }`,
      );
    }
    return new Sshd(server, resources.move());
  }

  /** Arguments for `ssh` that run `command` on this server, stdin from /dev/null. */
  sshArgs(command: readonly string[]): string[] {
    return sshArgs(this.#login, command);
  }

  /**
   * For clients that name the host themselves (parallel-ssh): `user@127.0.0.1:PORT`,
   * and the ssh options without the destination and command.
   */
  get loginFor(): { host: string; options: string[] } {
    const args = sshArgs(this.#login, []);
    const destination = args.indexOf(`${this.#login.user}@127.0.0.1`);
    const port = args.indexOf("-p");
    return {
      host: `${this.#login.user}@127.0.0.1:${this.#login.port}`,
      options: args.filter((_, i) => i !== port && i !== port + 1 && i < destination),
    };
  }

  /** Arguments for `scp` copying `sources` to `destination`; `HOST:` stands for this server. */
  scpArgs(
    sources: readonly string[],
    destination: string,
    options: { recursive?: boolean } = {},
  ): string[] {
    const login = this.#login;
    const remote = (path: string) => path.replace(/^HOST:/, `${login.user}@127.0.0.1:`);
    return [
      "-F",
      "/dev/null",
      "-i",
      login.keyFile,
      "-P",
      String(login.port),
      "-c",
      SSH_CIPHER,
      "-q",
      ...(options.recursive ? ["-r"] : []),
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      ...sources.map(remote),
      remote(destination),
    ];
  }

  /** Stops sshd and removes its keys and config. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#resources.disposeAsync();
  }
}

/** Where and as whom the ssh client logs in. */
interface SshLogin {
  readonly port: number;
  readonly user: string;
  readonly keyFile: string;
}

function sshArgs(login: SshLogin, command: readonly string[]): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    login.keyFile,
    "-p",
    String(login.port),
    "-c",
    SSH_CIPHER,
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-n",
    `${login.user}@127.0.0.1`,
    ...command,
  ];
}

/** Makes /run/sshd, which sshd started as root insists on, and removes it later if it was made here. */
async function ensurePrivsepDir(resources: AsyncDisposableStack): Promise<void> {
  const dir = "/run/sshd";
  try {
    await Deno.mkdir(dir, { mode: 0o755 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return;
    throw error;
  }
  resources.defer(() => Deno.remove(dir).catch(() => {}));
}
