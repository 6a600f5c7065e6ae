/**
 * `npm run schemas`: writes deploy/mqtt/*.schema.json from the zod schemas in src/sync/messages.ts,
 * and deploy/linepilot-config.schema.json from the config schema.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configJsonSchema } from "../src/config/schema.js";
import { jsonSchemaOf, MESSAGE_SCHEMAS } from "../src/sync/messages.js";
import { ROOT } from "../test/helpers.js";

for (const name of Object.keys(MESSAGE_SCHEMAS) as (keyof typeof MESSAGE_SCHEMAS)[]) {
  const file = join(ROOT, "deploy/mqtt", `${name}.schema.json`);
  writeFileSync(file, `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`);
  console.log(`wrote ${file}`);
}
const config = join(ROOT, "deploy", "linepilot-config.schema.json");
writeFileSync(config, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${config}`);
