import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import type { ModelKeyConfig } from "../../src/config/schema.js";
import { decryptModel, encryptModel, parseKey } from "../../src/registry/modelCrypto.js";
import { loadModelKey } from "../../src/registry/modelKey.js";
import { tempDir } from "../helpers.js";

const KEY_HEX = randomBytes(32).toString("hex");

/**
 * No Vault server can be installed here: this answers the two endpoints linepilot calls with the
 * shapes Vault's HTTP API documents (KV v2 read, AppRole login) and its error bodies
 * ({"errors": [...]}): 403 for a bad token, 400 for a bad AppRole secret, 503 while sealed.
 */
async function fakeVault(t: { after(fn: () => Promise<void>): void }) {
  const state = { sealed: false, requests: [] as { method: string; url: string; token?: string }[] };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (d) => {
      raw += d;
    });
    req.on("end", () => {
      const token = req.headers["x-vault-token"] as string | undefined;
      state.requests.push({ method: req.method!, url: req.url!, ...(token !== undefined ? { token } : {}) });
      if (state.sealed) return send(res, 503, { errors: ["Vault is sealed"] });
      if (req.method === "POST" && req.url === "/v1/auth/approle/login") {
        const body = JSON.parse(raw) as { role_id?: string; secret_id?: string };
        if (body.role_id !== "role-1" || body.secret_id !== "secret-1")
          return send(res, 400, { errors: ["invalid role or secret ID"] });
        return send(res, 200, {
          request_id: "a1",
          lease_id: "",
          renewable: false,
          lease_duration: 0,
          data: null,
          wrap_info: null,
          warnings: null,
          auth: {
            client_token: "s.approle-token",
            accessor: "acc",
            policies: ["default", "linepilot"],
            token_policies: ["default", "linepilot"],
            metadata: { role_name: "linepilot" },
            lease_duration: 3600,
            renewable: true,
          },
        });
      }
      if (req.method === "GET" && req.url === "/v1/secret/data/linepilot/line-a/model-key") {
        if (token !== "s.root-token" && token !== "s.approle-token")
          return send(res, 403, { errors: ["permission denied"] });
        return send(res, 200, {
          request_id: "b2",
          lease_id: "",
          renewable: false,
          lease_duration: 0,
          data: {
            data: { key: KEY_HEX },
            metadata: {
              created_time: "2026-11-01T10:00:00.000000Z",
              custom_metadata: null,
              deletion_time: "",
              destroyed: false,
              version: 1,
            },
          },
          wrap_info: null,
          warnings: null,
          auth: null,
        });
      }
      return send(res, 404, { errors: [] });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  return { address: `http://127.0.0.1:${port}`, state };
}

function vault(address: string, auth: Partial<Extract<ModelKeyConfig, { source: "vault" }>>): ModelKeyConfig {
  return {
    source: "vault",
    address,
    mount: "secret",
    path: "linepilot/line-a/model-key",
    field: "key",
    timeoutMs: 2000,
    ...auth,
  };
}

test("the model key from Vault (KV v2) with a token or AppRole; 403, a bad AppRole secret and a sealed Vault are clear errors", async (t) => {
  const v = await fakeVault(t);
  const env = {
    VAULT_TOKEN_X: "s.root-token",
    BAD: "s.nope",
    ROLE: "role-1",
    SECRET: "secret-1",
    WRONG: "x",
  };
  const key = await loadModelKey(vault(v.address, { token: "${env:VAULT_TOKEN_X}" }), env);
  assert.equal(key.toString("hex"), KEY_HEX);
  assert.deepEqual(v.state.requests.at(-1), {
    method: "GET",
    url: "/v1/secret/data/linepilot/line-a/model-key",
    token: "s.root-token",
  });

  const viaRole = await loadModelKey(
    vault(v.address, { approle: { roleId: "${env:ROLE}", secretId: "${env:SECRET}" } }),
    env,
  );
  assert.equal(viaRole.toString("hex"), KEY_HEX);
  assert.equal(v.state.requests.at(-2)!.url, "/v1/auth/approle/login");
  assert.equal(v.state.requests.at(-1)!.token, "s.approle-token", "the read uses the AppRole login's token");

  await assert.rejects(
    loadModelKey(vault(v.address, { token: "${env:BAD}" }), env),
    /HTTP 403: permission denied\); permission denied: check the token or AppRole/,
  );
  await assert.rejects(
    loadModelKey(vault(v.address, { approle: { roleId: "${env:ROLE}", secretId: "${env:WRONG}" } }), env),
    /HTTP 400: invalid role or secret ID/,
  );
  v.state.sealed = true;
  await assert.rejects(
    loadModelKey(vault(v.address, { token: "${env:VAULT_TOKEN_X}" }), env),
    /HTTP 503: Vault is sealed\); Vault is sealed or unavailable/,
  );
  await assert.rejects(
    loadModelKey(vault("http://127.0.0.1:1", { token: "${env:VAULT_TOKEN_X}" }), env),
    /Vault at http:\/\/127.0.0.1:1: cannot read the model key/,
  );
});

test("the model key from a systemd credential or a 0600 key file; a world-readable key is refused", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "linepilot-model-key"), `${KEY_HEX}\n`);
  const fromCredential = await loadModelKey(
    { source: "credential", name: "linepilot-model-key" },
    { CREDENTIALS_DIRECTORY: dir },
  );
  assert.equal(fromCredential.toString("hex"), KEY_HEX);
  await assert.rejects(
    loadModelKey({ source: "credential", name: "linepilot-model-key" }, {}),
    /\$CREDENTIALS_DIRECTORY is not set/,
  );

  const file = join(dir, "model.key");
  writeFileSync(file, Buffer.from(KEY_HEX, "hex").toString("base64"), { mode: 0o644 });
  chmodSync(file, 0o644);
  await assert.rejects(
    loadModelKey({ source: "file", path: file, create: false }),
    /readable by group or others \(mode 644\): refused; chmod 600/,
  );
  chmodSync(file, 0o600);
  assert.equal(
    (await loadModelKey({ source: "file", path: file, create: false })).toString("hex"),
    KEY_HEX,
    "base64 is accepted too",
  );

  const created = join(dir, "sub", "new.key");
  const k1 = await loadModelKey({ source: "file", path: created, create: true });
  assert.equal(statSync(created).mode & 0o777, 0o600);
  assert.deepEqual(
    await loadModelKey({ source: "file", path: created, create: true }),
    k1,
    "an existing key is never replaced",
  );
  assert.throws(() => parseKey("too short", "test"), /64 hex digits or base64/);
});

test("AES-256-GCM: a flipped bit anywhere (header, tag, body) or another key is refused", () => {
  const key = Buffer.from(KEY_HEX, "hex");
  const plain = randomBytes(5000);
  const file = encryptModel(plain, key);
  assert.deepEqual(decryptModel(file, key, "m"), plain);
  assert.notDeepEqual(encryptModel(plain, key), file, "a fresh nonce per file");
  for (const at of [9, 20, 30, 100, file.length - 1]) {
    const bad = Buffer.from(file);
    bad[at]! ^= 0x01;
    assert.throws(
      () => decryptModel(bad, key, "m"),
      /m (failed authentication|is not an encrypted)/,
      `byte ${at}`,
    );
  }
  assert.throws(() => decryptModel(file, randomBytes(32), "m"), /failed authentication/);
});
