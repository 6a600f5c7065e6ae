/** One rule for "the active goal", whoever asks: the what-if and the optimizer used to differ. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { activeGoalOf } from "../../src/process/whatIf.js";
import { activeGoal, setGoal } from "../../src/store/goals.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

test("a goal that has not started is not the active goal, for the optimizer nor for a what-if; a new goal replaces the old", (t) => {
  const store = new Store({ path: join(tempDir(t), "line.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  t.after(() => store.close());
  const now = Date.UTC(2026, 11, 3, 8);
  const h = 3_600_000;
  const first = setGoal(store.db, {
    pieces: 4000,
    quality: "A",
    startsAt: now - h,
    dueAt: now + 7 * h,
    by: "mes",
    at: now,
  });
  assert.equal(activeGoal(store.db, now)?.id, first);
  assert.deepEqual(activeGoalOf(store.db, now), { pieces: 4000, hours: 8 });
  // The next shift's goal, set now: it replaces this one, and counts only from its start.
  const next = setGoal(store.db, {
    pieces: 5000,
    quality: "A",
    startsAt: now + 8 * h,
    dueAt: now + 16 * h,
    by: "mes",
    at: now,
  });
  assert.equal(activeGoal(store.db, now), undefined);
  assert.equal(
    activeGoalOf(store.db, now),
    undefined,
    "the what-if used to judge against a goal not started yet",
  );
  assert.equal(activeGoal(store.db, now + 9 * h)?.id, next);
});
