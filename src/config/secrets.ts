/**
 * Secret references in the config: ${env:NAME}, ${file:/path} and ${credential:NAME} (a systemd
 * credential passed with LoadCredential=, found in $CREDENTIALS_DIRECTORY). Resolved when a
 * component needs the value, so a rotated file is picked up on the next connect.
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { LinepilotError } from "../common/errors.js";
import { SECRET_REFERENCE } from "./schema.js";

type Source = { kind: "env" | "file" | "credential"; name: string };

function parse(ref: string): Source {
  const m = SECRET_REFERENCE.exec(ref);
  if (m === null) throw new LinepilotError("LP_ERR_CONFIG", `not a secret reference: ${ref}`);
  return { kind: m[1] as Source["kind"], name: m[2]! };
}

function filePath(source: Source, env: NodeJS.ProcessEnv): string | { problem: string } {
  if (source.kind === "file") {
    return isAbsolute(source.name)
      ? source.name
      : { problem: `\${file:${source.name}} must be an absolute path` };
  }
  const dir = env.CREDENTIALS_DIRECTORY;
  if (dir === undefined || dir === "")
    return {
      problem: `\${credential:${source.name}} needs $CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=)`,
    };
  return join(dir, source.name);
}

/** Why `ref` cannot be resolved in this environment, or undefined when it can. */
export function checkSecret(ref: string, env: NodeJS.ProcessEnv): string | undefined {
  const source = parse(ref);
  if (source.kind === "env") {
    return env[source.name] === undefined
      ? `environment variable ${source.name} is not set (${ref})`
      : undefined;
  }
  const path = filePath(source, env);
  if (typeof path !== "string") return path.problem;
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path} is not a file (${ref})`;
    if ((st.mode & 0o077) !== 0 && source.kind === "file")
      return `${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it (${ref})`;
    readFileSync(path);
    return undefined;
  } catch (error) {
    return `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)} (${ref})`;
  }
}

export function resolveSecret(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const problem = checkSecret(ref, env);
  if (problem !== undefined) throw new LinepilotError("LP_ERR_CONFIG", problem);
  const source = parse(ref);
  if (source.kind === "env") return env[source.name]!;
  // A trailing newline from `echo secret > file` is never part of the secret.
  return readFileSync(filePath(source, env) as string, "utf8").replace(/\r?\n$/, "");
}
