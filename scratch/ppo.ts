import { trainPpo } from "../src/optimizer/ppo.js";

const t = Date.now();
const r = trainPpo({
  onIteration: (i, m) => {
    if (i % 10 === 0) console.log(i, Math.round(m), Date.now() - t, "ms");
  },
});
console.log(Array.from(r.logStd));
