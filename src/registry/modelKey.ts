/**
 * The model key (docs/design.md §3): from HashiCorp Vault (token or AppRole auth, KV version 2),
 * from a systemd credential, or from a key file only its owner can read. The key is fetched when
 * the registry starts and kept in memory only; it is never logged nor written anywhere else.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { ModelKeyConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { KEY_BYTES, parseKey } from "./modelCrypto.js";

type VaultClient = {
  token?: string;
  read(path: string): Promise<{ data?: { data?: Record<string, unknown> } }>;
  approleLogin(args: { role_id: string; secret_id: string }): Promise<unknown>;
};
type VaultFactory = (o: Record<string, unknown>) => VaultClient;
const vaultFactory = createRequire(import.meta.url)("node-vault") as VaultFactory;

export async function loadModelKey(
  cfg: ModelKeyConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Buffer> {
  switch (cfg.source) {
    case "credential": {
      const dir = env.CREDENTIALS_DIRECTORY;
      if (dir === undefined || dir === "")
        throw new LinepilotError(
          "LP_ERR_CONFIG",
          `the model key is the systemd credential '${cfg.name}', but $CREDENTIALS_DIRECTORY is not set (add LoadCredential=${cfg.name}:/etc/linepilot/${cfg.name} to the unit)`,
        );
      return parseKey(readKeyFile(join(dir, cfg.name), false), `credential ${cfg.name}`);
    }
    case "file": {
      if (cfg.create && !existsSync(cfg.path)) {
        mkdirSync(dirname(cfg.path), { recursive: true });
        // wx: never overwrite a key another process has just created (models encrypted with it).
        writeFileSync(cfg.path, `${randomBytes(KEY_BYTES).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
      }
      return parseKey(readKeyFile(cfg.path, true), cfg.path);
    }
    case "vault":
      return parseKey(await readFromVault(cfg, env), `Vault ${cfg.mount}/${cfg.path}#${cfg.field}`);
  }
}

function readKeyFile(path: string, ownerOnly: boolean): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new LinepilotError(
      "LP_ERR_CONFIG",
      `cannot read the model key ${path}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
    );
  }
  // A key others can read is no key: refuse it rather than encrypt with it.
  if (ownerOnly && (mode & 0o077) !== 0)
    throw new LinepilotError(
      "LP_ERR_CONFIG",
      `the model key ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}): refused; chmod 600 ${path}`,
    );
  return readFileSync(path, "utf8");
}

async function readFromVault(
  cfg: Extract<ModelKeyConfig, { source: "vault" }>,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const requestOptions: Record<string, unknown> = { timeout: cfg.timeoutMs };
  if (cfg.caFile !== undefined) requestOptions.ca = readFileSync(cfg.caFile);
  const vault = vaultFactory({
    apiVersion: "v1",
    endpoint: cfg.address,
    ...(cfg.token !== undefined ? { token: resolveSecret(cfg.token, env) } : {}),
    requestOptions,
  });
  const where = `Vault at ${cfg.address}`;
  try {
    if (cfg.approle !== undefined)
      // node-vault keeps the client_token of the login answer for the read below.
      await vault.approleLogin({
        role_id: resolveSecret(cfg.approle.roleId, env),
        secret_id: resolveSecret(cfg.approle.secretId, env),
      });
    // KV version 2: GET /v1/<mount>/data/<path> answers { data: { data: {...}, metadata: {...} } }.
    const answer = await vault.read(`${cfg.mount}/data/${cfg.path}`);
    const value = answer.data?.data?.[cfg.field];
    if (typeof value !== "string")
      throw new LinepilotError(
        "LP_ERR_CONFIG",
        `${where}: the secret ${cfg.mount}/${cfg.path} has no string field '${cfg.field}'`,
      );
    return value;
  } catch (error) {
    if (error instanceof LinepilotError) throw error;
    const status = (error as { response?: { statusCode?: number } }).response?.statusCode;
    const hint =
      status === 403
        ? "permission denied: check the token or AppRole and its policy (read on the KV path)"
        : status === 503
          ? "Vault is sealed or unavailable: unseal it, then restart linepilot"
          : status === 404
            ? `no secret at ${cfg.mount}/${cfg.path}`
            : undefined;
    throw new LinepilotError(
      "LP_ERR_CONFIG",
      `${where}: cannot read the model key (${status !== undefined ? `HTTP ${status}: ` : ""}${errorMessage(error)})${hint !== undefined ? `; ${hint}` : ""}`,
    );
  }
}
