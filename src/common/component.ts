/** The lifecycle contract every live object of the daemon follows: the base vocabulary every folder may use. */
export type HealthState = "ok" | "degraded" | "down" | "stopped";

export interface ComponentHealth {
  state: HealthState;
  /** Figures and facts a technician needs: counts, rates, last error. */
  details: Record<string, unknown>;
}

export interface Component {
  /** Stable name for logs, /health and `linepilot status`. */
  readonly name: string;
  /** Acquire resources and begin work. Rejects when the component cannot run at all. */
  start(): Promise<void>;
  /** Finish in-flight work (flush, drain) and release resources. Must be safe to call twice. */
  stop(): Promise<void>;
  health(): ComponentHealth;
}
