/**
 * Versioned schema of the store. The version lives in SQLite's `PRAGMA user_version`; each
 * migration runs in its own transaction, so a crash mid-upgrade leaves the previous version intact.
 * Never edit a released migration: add the next one.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description:
      "initial schema: telemetry, events, maintenance, goals, alerts, predictions, models, audit, outbox",
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      -- Tag names are stored once; sensor_data refers to them by integer id to keep rows small.
      CREATE TABLE tags (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        machine_id INTEGER NOT NULL,
        unit TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL
      );

      -- status is an OPC UA StatusCode (0 = Good; top two bits 01 = Uncertain, 10 = Bad), also for
      -- Modbus, so a bad reading is kept as bad rather than dropped. value is NULL when none was read.
      CREATE TABLE sensor_data (
        id INTEGER PRIMARY KEY,
        tag_id INTEGER NOT NULL REFERENCES tags(id),
        ts INTEGER NOT NULL,
        value REAL,
        status INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX sensor_data_tag_ts ON sensor_data(tag_id, ts);

      CREATE TABLE machine_events (
        id INTEGER PRIMARY KEY,
        machine_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        tag TEXT,
        code INTEGER,
        message TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX machine_events_machine_ts ON machine_events(machine_id, ts);

      CREATE TABLE maintenance_records (
        id INTEGER PRIMARY KEY,
        machine_id INTEGER NOT NULL,
        work_order TEXT,
        started_at INTEGER NOT NULL,
        completed_at INTEGER NOT NULL,
        downtime_min REAL NOT NULL DEFAULT 0,
        failure INTEGER NOT NULL DEFAULT 0,
        parts TEXT NOT NULL DEFAULT '[]',
        technician TEXT,
        notes TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT 'cli',
        created_at INTEGER NOT NULL,
        CHECK (completed_at >= started_at)
      );
      CREATE INDEX maintenance_records_machine ON maintenance_records(machine_id, completed_at);

      CREATE TABLE production_goals (
        id INTEGER PRIMARY KEY,
        target_pieces INTEGER NOT NULL CHECK (target_pieces > 0),
        quality TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'met', 'missed', 'cancelled')),
        created_by TEXT,
        created_at INTEGER NOT NULL,
        CHECK (due_at > starts_at)
      );

      CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        machine_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'SAFETY')),
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'cleared')),
        opened_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        cleared_at INTEGER,
        acknowledged_by TEXT,
        acknowledged_at INTEGER,
        details TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX alerts_state ON alerts(state, machine_id);

      CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        machine_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        model_id INTEGER,
        risk_level TEXT NOT NULL CHECK (risk_level IN ('LOW', 'MEDIUM', 'HIGH')),
        failure_probability REAL NOT NULL,
        confidence REAL,
        recommended_action TEXT,
        reasons TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX predictions_machine_ts ON predictions(machine_id, ts);

      CREATE TABLE ai_models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        type TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        metrics TEXT NOT NULL DEFAULT '{}',
        trained_at INTEGER,
        deployed_at INTEGER,
        status TEXT NOT NULL CHECK (status IN ('candidate', 'active', 'fallback', 'deprecated', 'rejected')),
        created_at INTEGER NOT NULL,
        UNIQUE (name, version)
      );
      -- Exactly one active model per name, enforced by the database and not only by code.
      CREATE UNIQUE INDEX ai_models_one_active ON ai_models(name) WHERE status = 'active';

      CREATE TABLE ai_decisions_audit (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        machine_id INTEGER,
        tag TEXT,
        model_id INTEGER,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '{}'
      );
      -- The audit log is evidence: append-only, enforced below the application.
      CREATE TRIGGER ai_decisions_audit_no_update BEFORE UPDATE ON ai_decisions_audit
        BEGIN SELECT RAISE(ABORT, 'ai_decisions_audit is append-only'); END;
      CREATE TRIGGER ai_decisions_audit_no_delete BEFORE DELETE ON ai_decisions_audit
        BEGIN SELECT RAISE(ABORT, 'ai_decisions_audit is append-only'); END;

      -- Store-and-forward queue to the plant. AUTOINCREMENT: ids never reused, so order is strict.
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE,
        class TEXT NOT NULL CHECK (class IN ('telemetry', 'status', 'metrics', 'prediction', 'alert', 'audit', 'work_order', 'reply')),
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 2,
    description: "plant commands received over MQTT, for idempotence by command id",
    sql: `
      CREATE TABLE plant_commands (
        command_id TEXT PRIMARY KEY,
        received_at INTEGER NOT NULL,
        command TEXT NOT NULL,
        sender TEXT NOT NULL,
        ok INTEGER NOT NULL,
        reply TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: "optimizer suggestions and the optimizer mode a person set per line or tag",
    sql: `
      -- One suggestion = one machine's setpoint changes from one optimizer decision. changes and
      -- expected are JSON: [{tag, setpoint, from, to, percent, outcome?}] and the twin's effect.
      CREATE TABLE suggestions (
        id INTEGER PRIMARY KEY,
        machine_id INTEGER NOT NULL,
        policy TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('assisted', 'autonomous')),
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'written', 'partly_written', 'refused', 'failed')),
        changes TEXT NOT NULL,
        expected TEXT NOT NULL DEFAULT '{}',
        reason TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        decided_by TEXT,
        decided_at INTEGER,
        applied_at INTEGER,
        outcome TEXT,
        CHECK (expires_at > created_at)
      );
      CREATE INDEX suggestions_state ON suggestions(state, machine_id);

      -- Set by a person (CLI, API); absent rows fall back to the config file.
      CREATE TABLE optimizer_modes (
        scope TEXT PRIMARY KEY,
        mode TEXT NOT NULL CHECK (mode IN ('assisted', 'autonomous')),
        set_by TEXT NOT NULL,
        set_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: "continuous-learning runs",
    sql: `
      -- One row per learning run; a run still 'running' when the daemon starts was interrupted.
      CREATE TABLE learning_runs (
        id INTEGER PRIMARY KEY,
        model_name TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        state TEXT NOT NULL CHECK (state IN ('running', 'promoted', 'rejected', 'skipped', 'failed', 'interrupted')),
        data_to INTEGER,
        candidate_id INTEGER REFERENCES ai_models(id),
        active_id INTEGER REFERENCES ai_models(id),
        reason TEXT NOT NULL DEFAULT '',
        metrics TEXT NOT NULL DEFAULT '{}'
      );
    `,
  },
  {
    version: 5,
    description: "predictions by time, for the metrics' predictions in the last hour",
    sql: `
      -- /metrics counts the last hour's predictions at every scrape: without this, a full scan of
      -- the table on the event loop (32 ms at 1 M predictions; 0.01 ms with it).
      CREATE INDEX predictions_ts ON predictions(ts);
    `,
  },
  {
    version: 6,
    description: "failure modes on maintenance records; anomaly scores of normal-behaviour baselines",
    sql: `
      -- What the technician found (bearing, seal, motor, ...): imported or recorded with the record.
      ALTER TABLE maintenance_records ADD COLUMN failure_mode TEXT;

      -- A baseline's score is not a probability, so it is not a prediction row: its own table, with
      -- the threshold it was compared with and whether the baseline was still in its shadow period.
      CREATE TABLE anomaly_scores (
        id INTEGER PRIMARY KEY,
        machine_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        model_id INTEGER,
        score REAL NOT NULL,
        threshold REAL NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('LOW', 'MEDIUM', 'HIGH')),
        shadow INTEGER NOT NULL DEFAULT 0,
        reasons TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX anomaly_scores_machine_ts ON anomaly_scores(machine_id, ts);
    `,
  },
  {
    version: 7,
    description: "plant commands remembered per sender and id",
    sql: `
      -- A command id is the sender's: another sender reusing it is another command, and a refused
      -- sender's id is never remembered (it could otherwise squat the id of a genuine command).
      CREATE TABLE plant_commands_by_sender (
        sender TEXT NOT NULL,
        command_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        command TEXT NOT NULL,
        ok INTEGER NOT NULL,
        reply TEXT NOT NULL,
        PRIMARY KEY (sender, command_id)
      );
      INSERT INTO plant_commands_by_sender (sender, command_id, received_at, command, ok, reply)
        SELECT sender, command_id, received_at, command, ok, reply FROM plant_commands;
      DROP TABLE plant_commands;
      ALTER TABLE plant_commands_by_sender RENAME TO plant_commands;
    `,
  },
  {
    version: 8,
    description: "raw waveform blocks",
    sql: `
      -- A waveform tag's features are samples like any other; a raw block is kept now and then
      -- (waveform.keepEveryMs) so a technician can look at the spectrum behind them.
      CREATE TABLE waveform_blocks (
        id INTEGER PRIMARY KEY,
        tag_id INTEGER NOT NULL REFERENCES tags(id),
        ts INTEGER NOT NULL,
        rate_hz REAL NOT NULL,
        samples BLOB NOT NULL
      );
      CREATE INDEX waveform_blocks_by_tag ON waveform_blocks (tag_id, ts);
    `,
  },
  {
    version: 9,
    description: "outbox messages the broker refused",
    sql: `
      -- A message the broker refuses (an ACL, a size limit) is kept here with the reason, so the
      -- queue behind it goes on and nothing is lost silently.
      CREATE TABLE outbox_refused (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        class TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        refused_at INTEGER NOT NULL,
        reason TEXT NOT NULL
      );
    `,
  },
  {
    version: 10,
    description: "alert outcomes, the model behind an alert, work orders delivered to the maintenance system",
    sql: `
      -- What the technician found: the labels continuous learning and the live model counters use.
      ALTER TABLE alerts ADD COLUMN outcome TEXT CHECK (outcome IN ('confirmed', 'false_alarm'));
      ALTER TABLE alerts ADD COLUMN outcome_mode TEXT;
      ALTER TABLE alerts ADD COLUMN outcome_by TEXT;
      ALTER TABLE alerts ADD COLUMN outcome_at INTEGER;
      ALTER TABLE alerts ADD COLUMN outcome_note TEXT;
      ALTER TABLE alerts ADD COLUMN maintenance_record_id INTEGER;
      ALTER TABLE alerts ADD COLUMN model_id INTEGER;
      -- The maintenance system's own id for the work order (a notification or work-order number).
      ALTER TABLE alerts ADD COLUMN work_order_ref TEXT;
      ALTER TABLE maintenance_records ADD COLUMN alert_id INTEGER;
      ALTER TABLE maintenance_records ADD COLUMN recorded_by TEXT;

      -- Work orders for the maintenance system's HTTP API: queued in the alert's own transaction,
      -- at most one per alert and escalation (the UNIQUE), delivered in order, kept once done.
      CREATE TABLE work_order_deliveries (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL,
        escalation INTEGER NOT NULL,
        delivery_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'refused')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        status_code INTEGER,
        remote_id TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        UNIQUE (alert_id, escalation)
      );
      CREATE INDEX work_order_deliveries_pending ON work_order_deliveries (state, id);

      -- Which model watched which machine when: the live counters charge a missed failure to it.
      CREATE INDEX predictions_model ON predictions (model_id, machine_id, ts);
      CREATE INDEX anomaly_scores_model ON anomaly_scores (model_id, machine_id, ts);
    `,
  },
  {
    version: 11,
    description: "hourly rollup of each tag's samples; audit log indexes by time and machine",
    sql: `
      -- Each tag's hour: min, max, sum and count of its values, rolled up from sensor_data by id
      -- (so late and imported rows land in their own hour) for long trends without a raw scan.
      CREATE TABLE sensor_hourly (
        tag_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        min REAL,
        max REAL,
        sum REAL NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (tag_id, hour)
      ) WITHOUT ROWID;
      CREATE INDEX sensor_hourly_hour ON sensor_hourly (hour);
      -- The audit log read by machine and by time (the console, linepilot audit).
      CREATE INDEX ai_decisions_audit_ts ON ai_decisions_audit (ts);
      CREATE INDEX ai_decisions_audit_machine_ts ON ai_decisions_audit (machine_id, ts);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
