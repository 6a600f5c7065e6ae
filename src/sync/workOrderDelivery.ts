/**
 * Work orders to the maintenance system's HTTP API (SAP PM notifications, IBM Maximo work
 * orders, a webhook), besides the MQTT work_orders topic.
 *
 * The queue is the store's (store/workOrders.ts): a work order is queued in its alert's own
 * transaction, so a restart or a kill -9 loses none, and it is delivered at most once per alert
 * and escalation. Deliveries go one at a time in queue order, so the maintenance system sees
 * work orders in the order the alerts opened.
 *
 * - 2xx: delivered. The maintenance system's id is read from the answer (`idFrom`) and kept on
 *   the alert.
 * - Connection refused or reset, a timeout, 408, 425, 429 or 5xx: retried with backoff, honouring
 *   Retry-After. Every attempt carries the same Idempotency-Key, so a server that supports it
 *   (and a person reading its log) can tell a retry from a new work order.
 * - Any other 4xx: the request is wrong and retrying will not fix it. It is refused, audited and
 *   counted, and the queue goes on.
 *
 * node:http(s) rather than fetch: fetch cannot take the plant CA's certificate without undici's
 * Agent, which Node does not expose.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import jsonata from "jsonata";
import { Backoff } from "../common/backoff.js";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, WorkOrderHttpConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import type { Store } from "../store/store.js";
import {
  finishWorkOrderAttempt,
  nextWorkOrderDelivery,
  type WorkOrderDelivery,
  workOrderDeliveryCounts,
} from "../store/workOrders.js";

const RETRIED_STATUS = new Set([408, 425, 429]);
/** An answer is read up to this size: an id is a few bytes, a runaway body is not kept. */
const MAX_ANSWER_BYTES = 1024 * 1024;

interface Answer {
  status: number;
  body: string;
  retryAfterMs: number | undefined;
}

export class WorkOrderDeliveryService implements Component {
  readonly name = "workOrders";
  readonly #cfg: WorkOrderHttpConfig;
  readonly #store: Store;
  readonly #line: LineConfig;
  readonly #log: Logger;
  #headers: Record<string, string> = {};
  #ca: Buffer | undefined;
  #body: jsonata.Expression | undefined;
  #idFrom: jsonata.Expression | undefined;
  #backoff: Backoff | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #again = false;
  #abort: AbortController | undefined;
  delivered = 0;
  refused = 0;
  retries = 0;
  lastError: string | null = null;
  lastDeliveredAt: number | null = null;
  failingSince: number | null = null;

  constructor(cfg: WorkOrderHttpConfig, deps: { store: Store; line: LineConfig; log: Logger }) {
    this.#cfg = cfg;
    this.#store = deps.store;
    this.#line = deps.line;
    this.#log = deps.log;
  }

  async start(): Promise<void> {
    this.#headers = { ...this.#cfg.headers };
    for (const [name, ref] of Object.entries(this.#cfg.secretHeaders))
      this.#headers[name] = resolveSecret(ref);
    if (this.#cfg.caFile !== undefined) this.#ca = readFileSync(this.#cfg.caFile);
    if (this.#cfg.body !== undefined) this.#body = jsonata(this.#cfg.body);
    if (this.#cfg.idFrom !== undefined) this.#idFrom = jsonata(this.#cfg.idFrom);
    this.#backoff = new Backoff({ ...this.#cfg.retry, jitter: 0.1 });
    this.#stopped = false;
    this.#abort = new AbortController();
    // After the enqueueing transaction commits: a work order of a rolled-back alert is never sent.
    this.#store.onOutbox(() => setImmediate(() => this.#wake()));
    this.#wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort?.abort(); // an attempt cut short is not an attempt: it is made again at the next start
    await this.#running;
  }

  /** Starts a drain now unless one runs (then it drains again when done). */
  #wake(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.#wake();
      }
    });
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const next = nextWorkOrderDelivery(this.#store);
      if (next === undefined) return;
      const wait = next.nextAttemptAt - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.#wake(), wait);
        return;
      }
      await this.#deliver(next);
    }
  }

  async #deliver(d: WorkOrderDelivery): Promise<void> {
    const now = () => Date.now();
    let body: string;
    try {
      body = JSON.stringify(await this.#render(d));
    } catch (error) {
      // The template failed on this work order: retrying gives the same answer.
      return this.#refuse(d, null, `the body template failed: ${errorMessage(error)}`, now());
    }
    let answer: Answer;
    try {
      answer = await this.#send(body, d.deliveryKey);
    } catch (error) {
      if (this.#stopped) return;
      return this.#retry(d, null, errorMessage(error), undefined);
    }
    if (answer.status >= 200 && answer.status < 300) {
      const remoteId = await this.#remoteId(answer.body, d);
      finishWorkOrderAttempt(this.#store, d, {
        state: "delivered",
        statusCode: answer.status,
        remoteId,
        at: now(),
      });
      this.delivered++;
      this.lastDeliveredAt = now();
      this.failingSince = null;
      this.#backoff!.reset();
      this.#log.info(
        { alertId: d.alertId, escalation: d.escalation, status: answer.status, remoteId },
        "work order delivered to the maintenance system",
      );
      return;
    }
    const said = answer.body.slice(0, 300).replace(/\s+/g, " ").trim();
    const error = `HTTP ${answer.status}${said === "" ? "" : `: ${said}`}`;
    if (answer.status >= 500 || RETRIED_STATUS.has(answer.status))
      return this.#retry(d, answer.status, error, answer.retryAfterMs);
    return this.#refuse(d, answer.status, error, now());
  }

  async #render(d: WorkOrderDelivery): Promise<unknown> {
    const machine = this.#line.machines.find((m) => m.id === d.payload.machine_id);
    const context = {
      ...d.payload,
      line: this.#line.line.name,
      machine: machine?.name ?? null,
      asset: machine?.assetId ?? null,
      deliveryKey: d.deliveryKey,
    };
    if (this.#body === undefined) return context;
    const rendered = await this.#body.evaluate(context);
    if (rendered === undefined) throw new Error("the expression gave nothing");
    return rendered;
  }

  async #remoteId(text: string, d: WorkOrderDelivery): Promise<string | null> {
    if (this.#idFrom === undefined) return null;
    try {
      const id = await this.#idFrom.evaluate(text === "" ? {} : JSON.parse(text));
      if (typeof id === "string" || typeof id === "number") return String(id);
    } catch {
      // an answer that is not JSON: delivered all the same, without an id
    }
    this.#log.warn(
      { alertId: d.alertId, answer: text.slice(0, 200) },
      "work order delivered, but idFrom found no id in the answer",
    );
    return null;
  }

  #retry(d: WorkOrderDelivery, status: number | null, error: string, retryAfterMs: number | undefined): void {
    const delay = Math.max(retryAfterMs ?? 0, this.#backoff!.next());
    const at = Date.now();
    finishWorkOrderAttempt(this.#store, d, {
      state: "retry",
      statusCode: status,
      error,
      at,
      nextAttemptAt: at + delay,
    });
    this.retries++;
    this.lastError = error;
    this.failingSince ??= at;
    this.#log.warn(
      { alertId: d.alertId, attempt: d.attempts + 1, retryInMs: delay, err: error },
      "work order not delivered yet: the maintenance system did not take it, retrying",
    );
  }

  #refuse(d: WorkOrderDelivery, status: number | null, error: string, at: number): void {
    this.#store.transaction(() => {
      finishWorkOrderAttempt(this.#store, d, { state: "refused", statusCode: status, error, at });
      this.#store.recordDecision({
        kind: "work_order",
        actor: "work_order_delivery",
        decision: "work order refused by the maintenance system",
        reason: error,
        ...(typeof d.payload.machine_id === "number" ? { machineId: d.payload.machine_id } : {}),
        details: { alertId: d.alertId, escalation: d.escalation, statusCode: status, url: this.#cfg.url },
      });
    });
    this.refused++;
    this.lastError = error;
    this.#log.error(
      { alertId: d.alertId, status, err: error },
      "work order refused by the maintenance system: not retried (see linepilot work-orders)",
    );
  }

  #send(body: string, deliveryKey: string): Promise<Answer> {
    const url = new URL(this.#cfg.url);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const payload = Buffer.from(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: this.#cfg.method,
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            ...this.#headers,
            "idempotency-key": deliveryKey,
            "content-length": payload.length,
          },
          timeout: this.#cfg.timeoutMs,
          signal: this.#abort!.signal,
          ...(this.#ca !== undefined ? { ca: this.#ca } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size <= MAX_ANSWER_BYTES) chunks.push(c);
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              retryAfterMs: retryAfter(res.headers["retry-after"]),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.#cfg.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  health(): ComponentHealth {
    const counts = this.#stopped ? undefined : workOrderDeliveryCounts(this.#store);
    return {
      state: this.#stopped ? "stopped" : this.failingSince !== null ? "degraded" : "ok",
      details: {
        url: this.#cfg.url,
        pending: counts?.pending ?? null,
        delivered: this.delivered,
        refused: this.refused,
        retries: this.retries,
        lastError: this.lastError,
        failingSince: this.failingSince === null ? null : new Date(this.failingSince).toISOString(),
        lastDeliveredAt: this.lastDeliveredAt === null ? null : new Date(this.lastDeliveredAt).toISOString(),
      },
    };
  }
}

/** Retry-After in seconds or as an HTTP date; capped at an hour. */
function retryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 3_600_000) : undefined;
}
