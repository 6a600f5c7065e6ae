/** `npm run schemas`: writes deploy/mqtt/*.schema.json from the zod schemas in src/sync/messages.ts. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jsonSchemaOf, MESSAGE_SCHEMAS } from "../src/sync/messages.js";
import { ROOT } from "../test/helpers.js";

for (const name of Object.keys(MESSAGE_SCHEMAS) as (keyof typeof MESSAGE_SCHEMAS)[]) {
  const file = join(ROOT, "deploy/mqtt", `${name}.schema.json`);
  writeFileSync(file, `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`);
  console.log(`wrote ${file}`);
}
