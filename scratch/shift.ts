import { rmSync } from "node:fs";
import { SearchPolicy } from "/work/main/src/optimizer/optimizer.ts";
import { runShift } from "/work/main/src/optimizer/shift.ts";

for (const mode of ["autonomous", "assisted"] as const) {
  rmSync("/tmp/sh/s.db", { force: true });
  rmSync("/tmp/sh/s.db-wal", { force: true });
  rmSync("/tmp/sh/s.db-shm", { force: true });
  const t = Date.now();
  const r = await runShift({
    storePath: "/tmp/sh/s.db",
    policy: new SearchPolicy({ lookaheadMin: 30, minGainPerHour: 20 }),
    mode,
  });
  const { writes_seen, ...rest } = r;
  console.log(Date.now() - t, "ms", JSON.stringify(rest, null, 1));
  console.log(writes_seen.slice(0, 12));
}
